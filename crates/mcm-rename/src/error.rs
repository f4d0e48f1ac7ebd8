//! The one error type of the crate. Every variant names the object (file, field, name),
//! the rule that was broken and what to do about it, because the person reading it is
//! about to rename their repository and must be able to fix the cause without reading code.

use std::path::PathBuf;

/// Everything that can stop a rename. Nothing in the tree has been changed when any of
/// these is returned, except [`Error::RollbackFailed`] (which says where the originals are)
/// and [`Error::LeftoversRemain`] / [`Error::CargoCheckFailed`] (reported after a
/// successful, verified apply).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A new name broke a naming rule.
    #[error("invalid {field} `{value}`: {rule}; for example `{example}`")]
    InvalidName {
        /// The command-line flag or metadata key that carried the name.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The rule, in words.
        rule: String,
        /// A valid value of the same kind.
        example: &'static str,
    },

    /// The tree's root has no readable `Cargo.toml`.
    #[error(
        "cannot read {path}: {source}; run the rename in the provider repository's root \
         (the directory holding its Cargo.toml) or pass --path DIR"
    )]
    ManifestUnreadable {
        /// The manifest that was looked for.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },

    /// The root `Cargo.toml` is not valid TOML.
    #[error("{path} is not valid TOML: {message}")]
    ManifestInvalid {
        /// The manifest.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },

    /// The root `Cargo.toml` does not say what the provider is currently called.
    #[error(
        "{path} has no `{key}`, so the current names cannot be detected; add\n\n\
         [package]\nname = \"machine-controller-manager-provider-sample-provider\"\n\n\
         [package.metadata.mcm-provider]\nproject = \"my-org\"\nprovider = \"SampleProvider\"\n\
         image_repository = \"ghcr.io/my-org/machine-controller-manager-provider-sample-provider\"\n\n\
         with the names the repository uses now"
    )]
    MetadataMissing {
        /// The manifest.
        path: PathBuf,
        /// The dotted key that is missing or not a string.
        key: &'static str,
    },

    /// The manifest's package name disagrees with the provider name in its metadata.
    #[error(
        "{path}: [package] name is `{found}` but [package.metadata.mcm-provider] provider = \
         `{provider}` means it should be `{expected}`; make them agree before renaming"
    )]
    PackageNameMismatch {
        /// The manifest.
        path: PathBuf,
        /// The `[package] name` found.
        found: String,
        /// The provider name in the metadata.
        provider: String,
        /// The package name the provider name implies.
        expected: String,
    },

    /// An interrupted earlier run left its staging directory behind.
    #[error(
        "{path} exists: an earlier rename was interrupted and this directory holds the \
         original files and journal.txt (each line: what was moved where). Restore the \
         files it lists, then delete the directory, before renaming again"
    )]
    InterruptedRun {
        /// The staging directory.
        path: PathBuf,
    },

    /// Reading the tree failed while planning.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// Walking the tree failed while planning.
    #[error("cannot walk {root}: {message}")]
    Walk {
        /// The tree.
        root: PathBuf,
        /// The walker's message.
        message: String,
    },

    /// A file or directory that must change is not writable by its mode bits.
    #[error(
        "{path} is read-only (mode {mode:o}) but the rename must change it; make it \
         writable (chmod u+w '{path}') or move it out of the tree, then run again"
    )]
    ReadOnly {
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// Renaming would overwrite something that already exists.
    #[error(
        "cannot rename {from} to {to}: {to} already exists; move one of them out of the way \
         and run again"
    )]
    RenameTargetExists {
        /// The path to be renamed.
        from: PathBuf,
        /// Its new name.
        to: PathBuf,
    },

    /// A file was changed, removed or replaced by someone else between planning and applying.
    #[error(
        "{path} changed while the rename was running ({what}); nothing was left changed. \
         Run the rename again once nothing else writes to the tree"
    )]
    ChangedUnderneath {
        /// The file.
        path: PathBuf,
        /// What was noticed.
        what: String,
    },

    /// A step of the apply phase failed and every earlier step was undone.
    #[error("{step} failed: {source}; every change made so far was undone, the tree is as before")]
    RolledBack {
        /// What was being done, with its paths.
        step: String,
        /// The I/O error (permission denied, disk full, ...).
        source: std::io::Error,
    },

    /// A step failed and undoing the earlier steps failed too.
    #[error(
        "{cause}; undoing the earlier steps also failed ({failures}). The original files \
         are kept in {staging} and {staging}/journal.txt lists where each belongs"
    )]
    RollbackFailed {
        /// The first failure.
        cause: Box<Error>,
        /// The undo steps that failed, in words.
        failures: String,
        /// The staging directory holding the originals.
        staging: PathBuf,
    },

    /// The rename was applied but its staging directory could not be removed.
    #[error(
        "the rename was applied, but its staging directory {path} could not be removed \
         ({source}); it holds only the replaced originals: delete it by hand"
    )]
    StagingCleanup {
        /// The staging directory.
        path: PathBuf,
        /// Why removing it failed.
        source: std::io::Error,
    },

    /// The working tree has uncommitted changes and the user did not agree to go on.
    #[error(
        "{root} has uncommitted changes ({changes}); commit or stash them first so the \
         rename can be reviewed and undone with git, or pass --yes to rename anyway"
    )]
    DirtyTree {
        /// The tree.
        root: PathBuf,
        /// The first few changed paths as git lists them.
        changes: String,
    },

    /// The user answered no at the prompt.
    #[error("rename cancelled; nothing was changed")]
    Cancelled,

    /// The rename was applied but some old names remain where they could not be rewritten.
    #[error(
        "the rename was applied but {count} old name occurrence(s) remain in text that should \
         have been rewritten (listed above); edit them by hand"
    )]
    LeftoversRemain {
        /// How many.
        count: usize,
    },

    /// `cargo check` failed after the rename.
    #[error("`cargo check` in {root} failed after the rename ({status}); see its output above")]
    CargoCheckFailed {
        /// The tree.
        root: PathBuf,
        /// Its exit status or the error starting it.
        status: String,
    },

    /// Writing to the output stream failed.
    #[error("cannot write the report: {0}")]
    Output(#[source] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
