//! The shared `rename-project` command: names are validated before anything is touched,
//! a dirty git tree is refused without a terminal (asked about with one), `--yes` goes
//! ahead, `--dry-run` changes nothing, and missing metadata says what to add.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io;
use std::path::Path;

use mcm_rename::Error;
use mcm_rename::cli::{Prompt, RenameArgs, run};
use support::{Snapshot, assert_same, copy_tree, fixtures, git, git_commit_all, snapshot};

/// A scripted person: interactive or not, with a fixed answer; records the questions.
struct Scripted {
    interactive: bool,
    answer: bool,
    asked: Vec<String>,
}

impl Scripted {
    fn not_a_terminal() -> Self {
        Scripted {
            interactive: false,
            answer: false,
            asked: Vec::new(),
        }
    }
    fn answering(answer: bool) -> Self {
        Scripted {
            interactive: true,
            answer,
            asked: Vec::new(),
        }
    }
}

impl Prompt for Scripted {
    fn is_interactive(&self) -> bool {
        self.interactive
    }
    fn confirm(&mut self, question: &str) -> io::Result<bool> {
        self.asked.push(question.to_owned());
        Ok(self.answer)
    }
}

fn args(root: &Path, project: &str, provider: &str) -> RenameArgs {
    RenameArgs {
        project: project.into(),
        provider: provider.into(),
        path: root.to_path_buf(),
        image_repository: None,
        dry_run: false,
        yes: false,
        check: false,
    }
}

/// The golden input as a committed git repository.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("golden/input"), dir.path());
    git_commit_all(dir.path());
    dir
}

fn tree(root: &Path) -> Snapshot {
    snapshot(root, &[".git"], true)
}

#[test]
fn invalid_names_are_rejected_and_nothing_changes() {
    let dir = repo();
    let before = tree(dir.path());
    let cases = [
        ("my_org", "my-cloud", "--project", "hyphens"),
        (
            "my-org",
            "9cloud",
            "--provider",
            "start with an ASCII letter",
        ),
        ("my-org", "my cloud", "--provider", "only ASCII letters"),
        ("my-org", "type", "--provider", "Rust keyword"),
        (
            "my-org",
            "a-very-long-provider-name-that-is-too-long",
            "--provider",
            "DNS-1123",
        ),
    ];
    for (project, provider, field, rule) in cases {
        let mut out = Vec::new();
        let err = run(
            &args(dir.path(), project, provider),
            &mut Scripted::not_a_terminal(),
            &mut out,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::InvalidName { .. }), "{message}");
        assert!(
            message.contains(field) && message.contains(rule),
            "{message}"
        );
        assert!(message.contains("for example `"), "{message}");
        assert!(out.is_empty(), "nothing is scanned before validation");
    }
    let mut out = Vec::new();
    let mut bad_image = args(dir.path(), "my-org", "my-cloud");
    bad_image.image_repository = Some("GHCR.io/Org/Image:tag".into());
    let err = run(&bad_image, &mut Scripted::not_a_terminal(), &mut out).unwrap_err();
    assert!(err.to_string().contains("--image-repository"), "{err}");
    assert_same(&tree(dir.path()), &before, "after invalid names");
}

#[test]
fn a_dirty_tree_is_refused_without_a_terminal() {
    let dir = repo();
    fs::write(dir.path().join("README.md"), "local edit\n").unwrap();
    let before = tree(dir.path());
    let mut prompt = Scripted::not_a_terminal();
    let err = run(
        &args(dir.path(), "acme", "my-cloud"),
        &mut prompt,
        &mut Vec::new(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::DirtyTree { .. }), "{message}");
    assert!(
        message.contains("README.md") && message.contains("--yes"),
        "{message}"
    );
    assert!(prompt.asked.is_empty());
    assert_same(&tree(dir.path()), &before, "after refusing a dirty tree");
}

#[test]
fn an_untracked_file_also_makes_the_tree_dirty() {
    let dir = repo();
    fs::write(dir.path().join("new-file.txt"), "sample-provider\n").unwrap();
    let err = run(
        &args(dir.path(), "acme", "my-cloud"),
        &mut Scripted::not_a_terminal(),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::DirtyTree { .. }), "{err}");
}

#[test]
fn a_dirty_tree_is_asked_about_on_a_terminal() {
    let dir = repo();
    fs::write(dir.path().join("README.md"), "local edit\n").unwrap();
    let before = tree(dir.path());

    let mut no = Scripted::answering(false);
    let err = run(
        &args(dir.path(), "acme", "my-cloud"),
        &mut no,
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(no.asked.len(), 1);
    assert_same(&tree(dir.path()), &before, "after answering no");

    let mut yes = Scripted::answering(true);
    let report = run(
        &args(dir.path(), "acme", "my-cloud"),
        &mut yes,
        &mut Vec::new(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(yes.asked.len(), 1);
    assert_eq!(report.new.provider, "my-cloud");
}

#[test]
fn yes_renames_a_dirty_tree_without_asking() {
    let dir = repo();
    fs::write(dir.path().join("notes.md"), "sample-provider notes\n").unwrap();
    let mut prompt = Scripted::answering(false);
    let mut with_yes = args(dir.path(), "acme", "my-cloud");
    with_yes.yes = true;
    let mut out = Vec::new();
    run(&with_yes, &mut prompt, &mut out).unwrap().unwrap();
    assert!(prompt.asked.is_empty());
    assert_eq!(
        fs::read_to_string(dir.path().join("notes.md")).unwrap(),
        "my-cloud notes\n"
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("continuing (--yes)"), "{out}");
}

#[test]
fn a_clean_tree_is_renamed_and_the_result_committable() {
    let dir = repo();
    let mut out = Vec::new();
    let report = run(
        &args(dir.path(), "acme", "my-cloud"),
        &mut Scripted::not_a_terminal(),
        &mut out,
    )
    .unwrap()
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    // Only the binary file and the symbolic link keep the old name, and they are listed.
    assert_eq!(report.unexpected_leftovers().count(), 0, "{out}");
    assert!(out.contains("old names still present (3):"), "{out}");
    assert!(
        out.contains("assets/logo.bin: `sample-provider` (binary file, not rewritten)"),
        "{out}"
    );
    assert!(out.contains("file(s) changed"), "{out}");
    let status = git(dir.path(), &["status", "--porcelain"]);
    assert!(status.contains("src/my_cloud/"), "{status}");
    assert!(status.contains(" D src/sample_provider/mod.rs"), "{status}");
}

#[test]
fn dry_run_prints_the_diff_and_changes_nothing_even_when_dirty() {
    let dir = repo();
    fs::write(dir.path().join("untracked.txt"), "x\n").unwrap();
    let before = tree(dir.path());
    let mut dry = args(dir.path(), "acme", "my-cloud");
    dry.dry_run = true;
    let mut out = Vec::new();
    assert!(
        run(&dry, &mut Scripted::not_a_terminal(), &mut out)
            .unwrap()
            .is_none()
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("M Makefile"), "{out}");
    assert!(
        out.contains("+IMAGE ?= ghcr.io/acme/machine-controller-manager-provider-my-cloud"),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was changed."), "{out}");
    assert_same(&tree(dir.path()), &before, "after a dry run");
}

#[test]
fn unchanged_names_are_a_no_op() {
    let dir = repo();
    let before = tree(dir.path());
    let mut out = Vec::new();
    let result = run(
        &args(dir.path(), "old-org", "SampleProvider"),
        &mut Scripted::not_a_terminal(),
        &mut out,
    );
    assert!(result.unwrap().is_none());
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("Nothing to change")
    );
    assert_same(&tree(dir.path()), &before, "after a no-op");
}

#[test]
fn missing_metadata_says_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let before = tree(dir.path());
    let err = run(
        &args(dir.path(), "acme", "my-cloud"),
        &mut Scripted::not_a_terminal(),
        &mut Vec::new(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::MetadataMissing { .. }), "{message}");
    assert!(
        message.contains("[package.metadata.mcm-provider]"),
        "{message}"
    );
    assert!(
        message.contains("provider = \"SampleProvider\""),
        "{message}"
    );
    assert_same(&tree(dir.path()), &before, "after missing metadata");
}
