//! Golden tree: the synthetic provider in tests/fixtures/golden/input renamed from
//! (old-org, SampleProvider) to (acme, my-cloud) must equal tests/fixtures/golden/expected
//! byte for byte — contents, file and directory names, modes, symbolic links — while
//! gitignored and build output stays untouched.
//!
//! After an intended change of behaviour, regenerate the expected tree with
//! `MCM_RENAME_BLESS=1 cargo test -p mcm-rename --test golden` and review its git diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mcm_rename::{FormKind, LeftoverKind, NewNames, RenamePlan};
use support::{assert_same, copy_tree, fixtures, snapshot};

/// Entries the test creates at run time because git would not keep them in the fixture.
const IGNORED: &[&str] = &["ignored-notes.txt", "target"];
const IGNORED_TEXT: &str =
    "SampleProvider notes: old-org/machine-controller-manager-provider-sample-provider\n";

fn prepared_input() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("golden/input"), dir.path());
    fs::write(dir.path().join("ignored-notes.txt"), IGNORED_TEXT).unwrap();
    fs::create_dir_all(dir.path().join("target/debug")).unwrap();
    fs::write(
        dir.path().join("target/debug/sample-provider.d"),
        IGNORED_TEXT,
    )
    .unwrap();
    dir
}

fn new_names() -> NewNames {
    NewNames::new("acme", "my-cloud", None).unwrap()
}

#[test]
fn renamed_tree_matches_the_golden_tree() {
    let dir = prepared_input();
    let root = dir.path();
    let plan = RenamePlan::prepare(root, &new_names()).unwrap();
    let report = plan.apply().unwrap();

    let expected_dir = fixtures().join("golden/expected");
    if std::env::var_os("MCM_RENAME_BLESS").is_some() {
        let _ = fs::remove_dir_all(&expected_dir);
        copy_tree(root, &expected_dir);
        for ignored in IGNORED {
            let path = expected_dir.join(ignored);
            if path.is_dir() {
                fs::remove_dir_all(path).unwrap()
            } else {
                fs::remove_file(path).unwrap()
            }
        }
    }
    assert_same(
        &snapshot(root, IGNORED, false),
        &snapshot(&expected_dir, &[], false),
        "renamed fixture vs golden/expected",
    );

    // Ignored and build output is neither rewritten nor renamed.
    assert_eq!(
        fs::read_to_string(root.join("ignored-notes.txt")).unwrap(),
        IGNORED_TEXT
    );
    assert_eq!(
        fs::read_to_string(root.join("target/debug/sample-provider.d")).unwrap(),
        IGNORED_TEXT
    );

    // Spot checks that make the golden tree's intent explicit.
    let script = root.join("scripts/run-my-cloud.sh");
    assert_eq!(
        fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(root.join("src/my_cloud/my_cloud_driver.rs").is_file());
    assert!(root.join("go/pkg/mycloud/mycloud.go").is_file());
    assert_eq!(
        fs::read_link(root.join("sample-provider-link")).unwrap(),
        Path::new("src/sample_provider/mod.rs")
    );
    assert_eq!(
        fs::read(root.join("assets/logo.bin")).unwrap(),
        fs::read(fixtures().join("golden/input/assets/logo.bin")).unwrap()
    );

    // The report: counts per form, renamed paths, and what could not be rewritten.
    assert!(report.occurrences[&FormKind::CrateKebab] >= 5, "{report}");
    assert!(
        report.occurrences[&FormKind::ImageRepository] >= 4,
        "{report}"
    );
    assert_eq!(report.occurrences[&FormKind::GoModule], 3, "{report}");
    assert_eq!(report.occurrences[&FormKind::LowerCamel], 2, "{report}");
    assert!(
        report
            .renamed
            .contains(&("src/sample_provider".into(), "src/my_cloud".into())),
        "{report}"
    );
    assert!(
        report.renamed.contains(&(
            "src/sample_provider/sample_provider_driver.rs".into(),
            "src/my_cloud/my_cloud_driver.rs".into()
        )),
        "{report}"
    );
    assert!(
        report
            .files_changed
            .contains(&"src/my_cloud/my_cloud_driver.rs".into()),
        "{report}"
    );
    assert_eq!(report.unexpected_leftovers().count(), 0, "{report}");
    let mut kinds: Vec<(String, LeftoverKind)> = report
        .leftovers
        .iter()
        .map(|l| (l.path.display().to_string(), l.kind))
        .collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            ("assets/logo.bin".to_owned(), LeftoverKind::Binary),
            ("sample-provider-link".to_owned(), LeftoverKind::Symlink),
        ],
        "{report}"
    );
    assert_eq!(report.skipped.binary, [Path::new("assets/logo.bin")]);
    assert_eq!(
        report.skipped.non_utf8,
        [Path::new("docs/latin1-notes.txt")]
    );
}

#[test]
fn dry_run_plan_changes_nothing_and_describes_every_change() {
    let dir = prepared_input();
    let before = snapshot(dir.path(), &[], true);
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    let diff = plan.diff_summary(100);
    let summary = plan.summary().to_string();
    drop(plan);
    assert_same(&snapshot(dir.path(), &[], true), &before, "after planning");
    assert!(diff.contains("M README.md"), "{diff}");
    assert!(
        diff.contains("-# machine-controller-manager-provider-sample-provider"),
        "{diff}"
    );
    assert!(
        diff.contains("+# machine-controller-manager-provider-my-cloud"),
        "{diff}"
    );
    assert!(
        diff.contains("R dir  src/sample_provider → my_cloud"),
        "{diff}"
    );
    assert!(
        summary.contains("provider:         SampleProvider → my-cloud"),
        "{summary}"
    );
    assert!(
        summary.contains("left alone (symbolic link): link-to-readme, sample-provider-link"),
        "{summary}"
    );
}

#[test]
fn renaming_again_to_the_same_names_is_a_no_op() {
    let dir = prepared_input();
    RenamePlan::prepare(dir.path(), &new_names())
        .unwrap()
        .apply()
        .unwrap();
    let after_first = snapshot(dir.path(), &[], true);
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    assert!(plan.is_noop());
    let report = plan.apply().unwrap();
    assert!(report.is_noop());
    assert_same(
        &snapshot(dir.path(), &[], true),
        &after_first,
        "after the second rename",
    );
}

#[test]
fn a_to_b_to_c_equals_a_to_c() {
    let via_b = prepared_input();
    let direct = prepared_input();
    let b = NewNames::new("acme", "my-cloud", None).unwrap();
    let c = NewNames::new("other-org", "HetznerCloud", None).unwrap();
    RenamePlan::prepare(via_b.path(), &b)
        .unwrap()
        .apply()
        .unwrap();
    let report = RenamePlan::prepare(via_b.path(), &c)
        .unwrap()
        .apply()
        .unwrap();
    assert_eq!(
        report.old.provider, "my-cloud",
        "the second rename starts from the recorded names"
    );
    RenamePlan::prepare(direct.path(), &c)
        .unwrap()
        .apply()
        .unwrap();
    assert_same(
        &snapshot(via_b.path(), &[], false),
        &snapshot(direct.path(), &[], false),
        "A→B→C vs A→C",
    );
}
