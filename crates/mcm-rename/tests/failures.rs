//! Failure injection: whatever goes wrong while applying — an I/O error at any step, a
//! file made read-only, removed or modified by someone else mid-way, a path appearing in
//! the way — the tree ends byte-identical to before (contents, modes and mtimes), apart
//! from the other party's own change, and no staging directory is left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mcm_rename::{ApplyHook, Error, NewNames, RenamePlan, STAGING_PREFIX, Step};
use support::{Node, Snapshot, assert_same, copy_tree, fixtures, snapshot};

fn input_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("golden/input"), dir.path());
    dir
}

fn new_names() -> NewNames {
    NewNames::new("acme", "my-cloud", None).unwrap()
}

fn before(root: &Path) -> Snapshot {
    snapshot(root, &[], true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stage,
    Replace,
    Rename,
}

fn phase_of(step: &Step<'_>) -> Phase {
    match step {
        Step::Stage { .. } => Phase::Stage,
        Step::Replace { .. } => Phase::Replace,
        Step::Rename { .. } => Phase::Rename,
    }
}

/// Calls `action` once, just before step `index` of `phase`.
struct At<F: FnMut() -> io::Result<()>> {
    phase: Phase,
    index: usize,
    action: F,
    fired: bool,
}

impl<F: FnMut() -> io::Result<()>> ApplyHook for At<F> {
    fn before(&mut self, step: Step<'_>, index: usize) -> io::Result<()> {
        if phase_of(&step) == self.phase && index == self.index {
            self.fired = true;
            return (self.action)();
        }
        Ok(())
    }
}

fn at<F: FnMut() -> io::Result<()>>(phase: Phase, index: usize, action: F) -> At<F> {
    At {
        phase,
        index,
        action,
        fired: false,
    }
}

#[test]
fn an_io_error_at_any_step_is_rolled_back_completely() {
    let probe = input_tree();
    let plan = RenamePlan::prepare(probe.path(), &new_names()).unwrap();
    let (edits, renames) = (plan.edits().len(), plan.renames().len());
    assert!(
        edits >= 8 && renames >= 4,
        "the fixture must exercise every phase: {edits} {renames}"
    );

    let kinds = [io::ErrorKind::PermissionDenied, io::ErrorKind::StorageFull];
    let steps = (0..edits)
        .map(|i| (Phase::Stage, i))
        .chain((0..edits).map(|i| (Phase::Replace, i)))
        .chain((0..renames).map(|i| (Phase::Rename, i)));
    for (n, (phase, index)) in steps.enumerate() {
        let kind = kinds[n % kinds.len()];
        let dir = input_tree();
        let original = before(dir.path());
        let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
        let mut hook = at(phase, index, || Err(io::Error::from(kind)));
        let err = plan.apply_with_hook(&mut hook).unwrap_err();
        assert!(hook.fired);
        match &err {
            Error::RolledBack { source, .. } => assert_eq!(source.kind(), kind, "{err}"),
            other => panic!("{phase:?} #{index}: expected RolledBack, got {other:?}"),
        }
        assert!(err.to_string().contains("the tree is as before"), "{err}");
        assert_same(
            &before(dir.path()),
            &original,
            &format!("after a failure at {phase:?} #{index}"),
        );
    }
}

#[test]
fn a_read_only_file_is_refused_before_anything_changes() {
    let dir = input_tree();
    let readme = dir.path().join("README.md");
    fs::set_permissions(&readme, fs::Permissions::from_mode(0o444)).unwrap();
    let original = before(dir.path());
    let err = RenamePlan::prepare(dir.path(), &new_names()).unwrap_err();
    assert!(
        matches!(&err, Error::ReadOnly { path, mode: 0o444 } if *path == readme),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod u+w"), "{err}");
    assert_same(
        &before(dir.path()),
        &original,
        "after refusing a read-only file",
    );
}

#[test]
fn a_file_made_read_only_mid_way_rolls_back() {
    let dir = input_tree();
    let original = before(dir.path());
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    let victim = dir.path().join(&plan.edits()[4].rel);
    let target = victim.clone();
    let mut hook = at(Phase::Replace, 3, move || {
        fs::set_permissions(&target, fs::Permissions::from_mode(0o444))
    });
    let err = plan.apply_with_hook(&mut hook).unwrap_err();
    assert!(
        matches!(&err, Error::ReadOnly { path, .. } if *path == victim),
        "{err:?}"
    );
    let mut expected = original;
    let rel = victim.strip_prefix(dir.path()).unwrap().to_path_buf();
    if let Some(Node::File { mode, .. }) = expected.get_mut(&rel) {
        *mode = 0o444;
    }
    assert_same(
        &before(dir.path()),
        &expected,
        "after a file became read-only mid-way",
    );
}

#[test]
fn a_file_removed_during_the_run_rolls_back_and_stays_removed() {
    let dir = input_tree();
    let original = before(dir.path());
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    let rel = plan.edits()[5].rel.clone();
    let victim = dir.path().join(&rel);
    let mut hook = at(Phase::Replace, 2, move || fs::remove_file(&victim));
    let err = plan.apply_with_hook(&mut hook).unwrap_err();
    assert!(
        matches!(&err, Error::ChangedUnderneath { what, .. } if what.contains("removed")),
        "{err:?}"
    );
    let mut expected = original;
    expected.remove(&rel);
    assert_same(
        &before(dir.path()),
        &expected,
        "after a file was removed mid-way",
    );
}

#[test]
fn a_file_rewritten_during_the_run_keeps_the_other_writers_content() {
    // Same size and the old mtime put back: only the content comparison can notice.
    let dir = input_tree();
    let original = before(dir.path());
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    let rel = plan.edits()[6].rel.clone();
    let victim = dir.path().join(&rel);
    let foreign = {
        let mut bytes = fs::read(&victim).unwrap();
        bytes.reverse();
        bytes
    };
    let written = foreign.clone();
    let mut hook = at(Phase::Replace, 6, move || {
        let mtime = fs::metadata(&victim)?.modified()?;
        fs::write(&victim, &written)?;
        fs::File::options()
            .write(true)
            .open(&victim)?
            .set_modified(mtime)
    });
    let err = plan.apply_with_hook(&mut hook).unwrap_err();
    assert!(
        matches!(&err, Error::ChangedUnderneath { what, .. } if what.contains("content differs")),
        "{err:?}"
    );
    let mut expected = original;
    if let Some(Node::File { bytes, .. }) = expected.get_mut(&rel) {
        *bytes = foreign;
    }
    assert_same(
        &before(dir.path()),
        &expected,
        "after a same-size rewrite mid-way",
    );
}

#[test]
fn a_file_changed_between_planning_and_applying_is_noticed_before_any_change() {
    let dir = input_tree();
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    let victim = dir.path().join(&plan.edits().last().unwrap().rel);
    fs::write(&victim, "someone else's edit\n").unwrap();
    let edited = before(dir.path());
    let err = plan.apply().unwrap_err();
    assert!(
        matches!(&err, Error::ChangedUnderneath { path, .. } if *path == victim),
        "{err:?}"
    );
    assert_same(
        &before(dir.path()),
        &edited,
        "after refusing a changed file",
    );
}

#[test]
fn a_path_appearing_in_the_way_of_a_rename_rolls_back() {
    let dir = input_tree();
    let original = before(dir.path());
    let plan = RenamePlan::prepare(dir.path(), &new_names()).unwrap();
    let in_the_way: PathBuf = plan.renames()[1].to.clone();
    let created = dir.path().join(&in_the_way);
    let mut hook = at(Phase::Rename, 1, move || {
        fs::write(&created, "in the way\n")
    });
    let err = plan.apply_with_hook(&mut hook).unwrap_err();
    assert!(matches!(err, Error::RenameTargetExists { .. }), "{err:?}");
    let mut expected = original;
    let created_meta = fs::metadata(dir.path().join(&in_the_way)).unwrap();
    expected.insert(
        in_the_way,
        Node::File {
            mode: created_meta.permissions().mode() & 0o7777,
            bytes: b"in the way\n".to_vec(),
            modified: created_meta.modified().ok(),
        },
    );
    assert_same(
        &before(dir.path()),
        &expected,
        "after a rename target appeared",
    );
}

#[test]
fn a_rename_onto_an_existing_path_is_refused_when_planning() {
    let dir = input_tree();
    fs::write(dir.path().join("scripts/run-my-cloud.sh"), "already here\n").unwrap();
    let original = before(dir.path());
    let err = RenamePlan::prepare(dir.path(), &new_names()).unwrap_err();
    assert!(matches!(err, Error::RenameTargetExists { .. }), "{err:?}");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_same(&before(dir.path()), &original, "after refusing the rename");
}

#[test]
fn a_staging_directory_left_by_an_interrupted_run_is_refused() {
    let dir = input_tree();
    let staging = dir.path().join(format!("{STAGING_PREFIX}abc123"));
    fs::create_dir(&staging).unwrap();
    let original = before(dir.path());
    let err = RenamePlan::prepare(dir.path(), &new_names()).unwrap_err();
    assert!(
        matches!(&err, Error::InterruptedRun { path } if *path == staging),
        "{err:?}"
    );
    assert_same(&before(dir.path()), &original, "after refusing to run");
}

#[test]
fn a_successful_apply_leaves_no_staging_directory() {
    let dir = input_tree();
    RenamePlan::prepare(dir.path(), &new_names())
        .unwrap()
        .apply()
        .unwrap();
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(STAGING_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
