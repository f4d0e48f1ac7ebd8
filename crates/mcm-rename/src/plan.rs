//! Planning: everything the rename will do, computed in memory before anything is written.
//!
//! [`RenamePlan::prepare`] reads the current names from the manifest, walks the tree,
//! computes every file's new content and every path's new name, and checks that the plan
//! can be applied (no rename onto an existing path, nothing read-only). The plan can then
//! be shown ([`RenamePlan::summary`], [`RenamePlan::diff_summary`]) or applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::manifest::{self, CurrentNames, MANIFEST};
use crate::mapping::{FileKind, Mapping};
use crate::names::{NewNames, ProjectNames, default_image_repository, validate_image_repository};
use crate::scan::{self, FormCounts, Matcher};
use crate::walk::{self, Content, VisitKind};

/// One file whose content changes.
#[derive(Debug, Clone)]
pub struct FileEdit {
    /// Path relative to the root (before any directory rename).
    pub rel: PathBuf,
    /// The content read while planning; the file must still hold exactly this when applied.
    pub(crate) original: String,
    /// The new content.
    pub(crate) new: String,
    /// Replacements per form.
    pub counts: FormCounts,
    /// Permission bits to give the new content (those of the original).
    pub(crate) mode: u32,
    /// Owner of the original.
    pub(crate) uid: u32,
    /// Group of the original.
    pub(crate) gid: u32,
    /// Size seen while planning.
    pub(crate) len: u64,
    /// Modification time seen while planning.
    pub(crate) modified: Option<SystemTime>,
}

impl FileEdit {
    /// The content the file holds now.
    pub fn original_content(&self) -> &str {
        &self.original
    }

    /// The content it will hold.
    pub fn new_content(&self) -> &str {
        &self.new
    }
}

/// One file or directory whose own name changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRename {
    /// Current path relative to the root, parents with their current names.
    pub from: PathBuf,
    /// The same parent with the new name: renames are applied deepest first, so a parent is
    /// renamed only after everything below it.
    pub to: PathBuf,
    /// Where the entry ends up once every rename is done.
    pub final_path: PathBuf,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// Files the rename looked at but cannot rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Files with a NUL byte near the start.
    pub binary: Vec<PathBuf>,
    /// Files that are not valid UTF-8.
    pub non_utf8: Vec<PathBuf>,
    /// Symbolic links (never followed nor changed).
    pub symlinks: Vec<PathBuf>,
}

/// A complete, checked rename, ready to be shown or applied.
#[derive(Debug)]
pub struct RenamePlan {
    pub(crate) root: PathBuf,
    pub(crate) current: ProjectNames,
    pub(crate) new: ProjectNames,
    pub(crate) mapping: Mapping,
    pub(crate) edits: Vec<FileEdit>,
    pub(crate) renames: Vec<PathRename>,
    pub(crate) skipped: Skipped,
    pub(crate) files_scanned: usize,
    pub(crate) bytes_scanned: u64,
    pub(crate) name_counts: FormCounts,
    pub(crate) preexisting: Vec<(PathBuf, usize)>,
    /// New names of renamed entries, by current relative path.
    pub(crate) new_names: HashMap<PathBuf, String>,
}

impl RenamePlan {
    /// Plans renaming the provider repository at `root` to `new`. Reads, never writes.
    pub fn prepare(root: &Path, new: &NewNames) -> Result<Self> {
        if let Some(path) = walk::leftover_staging_dirs(root)?.into_iter().next() {
            return Err(Error::InterruptedRun { path });
        }
        let CurrentNames {
            names: current,
            image_repository_recorded,
        } = manifest::read_current_names(root)?;
        let new = new_project_names(&current, new)?;
        let mapping = Mapping::new(&current, &new);
        let mut plan = RenamePlan {
            root: root.to_path_buf(),
            current,
            new,
            mapping,
            edits: Vec::new(),
            renames: Vec::new(),
            skipped: Skipped::default(),
            files_scanned: 0,
            bytes_scanned: 0,
            name_counts: FormCounts::new(),
            preexisting: Vec::new(),
            new_names: HashMap::new(),
        };
        if plan.current == plan.new {
            return Ok(plan);
        }
        let new_only = Matcher::from_unsorted(new_spellings_not_in(&plan.new, &plan.mapping));
        let all_old = plan.mapping.matcher().clone();
        let mut every_spelling = plan.mapping.old_spellings();
        every_spelling.extend(plan.new.forms().into_iter().map(|(_, text)| text));
        let any_name = Matcher::from_unsorted(every_spelling);
        let mut new_names: HashMap<PathBuf, String> = HashMap::new();
        walk::walk(root, |visit| {
            let name = visit
                .rel
                .file_name()
                .and_then(OsStr::to_str)
                .map(str::to_owned);
            if visit.kind == VisitKind::Symlink {
                plan.skipped.symlinks.push(visit.rel);
                return Ok(());
            }
            if let Some(name) = &name {
                let kind = match visit.kind {
                    VisitKind::Dir => dir_kind(&visit.path),
                    _ => FileKind::of_file_name(name),
                };
                if let Some((renamed, counts)) = scan::rewrite(&plan.mapping, name, kind) {
                    add_counts(&mut plan.name_counts, &counts);
                    new_names.insert(visit.rel.clone(), renamed.clone());
                    plan.renames.push(PathRename {
                        to: visit.rel.with_file_name(&renamed),
                        from: visit.rel.clone(),
                        final_path: PathBuf::new(),
                        is_dir: visit.kind == VisitKind::Dir,
                    });
                }
            }
            if visit.kind != VisitKind::File {
                return Ok(());
            }
            plan.files_scanned += 1;
            plan.bytes_scanned += visit.metadata.len();
            let bytes = std::fs::read(&visit.path).map_err(|source| Error::Read {
                path: visit.path.clone(),
                source,
            })?;
            let text = match walk::classify(bytes) {
                Content::Text(text) => text,
                Content::Binary(_) => {
                    plan.skipped.binary.push(visit.rel);
                    return Ok(());
                }
                Content::NonUtf8(_) => {
                    plan.skipped.non_utf8.push(visit.rel);
                    return Ok(());
                }
            };
            let is_manifest = visit.rel == Path::new(MANIFEST);
            if !is_manifest && !any_name.may_occur(&text) {
                return Ok(());
            }
            if new_only.may_occur(&text) {
                let already = new_only.find_outside(&text, &all_old).len();
                if already > 0 {
                    plan.preexisting.push((visit.rel.clone(), already));
                }
            }
            let kind = name
                .as_deref()
                .map_or(FileKind::Other, FileKind::of_file_name);
            let rewritten = scan::rewrite(&plan.mapping, &text, kind);
            let (new_text, counts) = match rewritten {
                Some((new_text, counts)) => (new_text, counts),
                None if is_manifest => (text.clone(), FormCounts::new()),
                None => return Ok(()),
            };
            let new_text = if is_manifest {
                manifest::record_new_names(
                    &visit.path,
                    &new_text,
                    &plan.new,
                    image_repository_recorded,
                )?
            } else {
                new_text
            };
            if new_text == text {
                return Ok(());
            }
            plan.edits.push(FileEdit {
                rel: visit.rel,
                original: text,
                new: new_text,
                counts,
                mode: visit.metadata.permissions().mode(),
                uid: visit.metadata.uid(),
                gid: visit.metadata.gid(),
                len: visit.metadata.len(),
                modified: visit.metadata.modified().ok(),
            });
            Ok(())
        })?;
        plan.new_names = new_names;
        plan.finish_renames()?;
        plan.check_writable()?;
        Ok(plan)
    }

    /// Orders renames deepest first, works out final paths and refuses renames onto paths
    /// that exist or onto each other.
    fn finish_renames(&mut self) -> Result<()> {
        let mut targets = HashSet::new();
        let finals: Vec<PathBuf> = self
            .renames
            .iter()
            .map(|r| self.final_path(&r.from))
            .collect();
        for (rename, final_path) in self.renames.iter_mut().zip(finals) {
            rename.final_path = final_path;
            let target = self.root.join(&rename.to);
            if std::fs::symlink_metadata(&target).is_ok() || !targets.insert(rename.to.clone()) {
                return Err(Error::RenameTargetExists {
                    from: self.root.join(&rename.from),
                    to: target,
                });
            }
        }
        self.renames.sort_by(|a, b| {
            b.from
                .components()
                .count()
                .cmp(&a.from.components().count())
                .then_with(|| a.from.cmp(&b.from))
        });
        Ok(())
    }

    /// Refuses files that must change but are read-only, and directories in which entries
    /// must be replaced or renamed but that are read-only.
    fn check_writable(&self) -> Result<()> {
        for edit in &self.edits {
            ensure_writable(&self.root.join(&edit.rel))?;
        }
        let parents: HashSet<PathBuf> = self
            .edits
            .iter()
            .map(|e| &e.rel)
            .chain(self.renames.iter().map(|r| &r.from))
            .map(|rel| self.root.join(rel.parent().unwrap_or(Path::new(""))))
            .collect();
        for parent in parents {
            ensure_writable(&parent)?;
        }
        Ok(())
    }

    /// Where the entry at `rel` (relative, current names) ends up after every rename.
    pub fn final_path(&self, rel: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        let mut prefix = PathBuf::new();
        for component in rel.components() {
            prefix.push(component);
            match self.new_names.get(&prefix) {
                Some(name) => out.push(name),
                None => out.push(component),
            }
        }
        out
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The names the tree carries now.
    pub fn current_names(&self) -> &ProjectNames {
        &self.current
    }

    /// The names it will carry.
    pub fn new_names(&self) -> &ProjectNames {
        &self.new
    }

    /// Whether applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.edits.is_empty() && self.renames.is_empty()
    }

    /// The files whose content changes, in walk order.
    pub fn edits(&self) -> &[FileEdit] {
        &self.edits
    }

    /// The path renames, deepest first.
    pub fn renames(&self) -> &[PathRename] {
        &self.renames
    }

    /// What the plan will do, in numbers and lists.
    pub fn summary(&self) -> Summary {
        let mut occurrences = self.name_counts.clone();
        for edit in &self.edits {
            add_counts(&mut occurrences, &edit.counts);
        }
        let mut notes = Vec::new();
        for pattern in self.mapping.ambiguous() {
            let forms: Vec<String> = pattern
                .candidates
                .iter()
                .map(|(kind, new)| format!("{kind} → `{new}`"))
                .collect();
            notes.push(format!(
                "`{}` spells several forms ({}); each occurrence gets the form its context \
                 calls for (see docs/rename-project.md)",
                pattern.old,
                forms.join(", ")
            ));
        }
        if !self.preexisting.is_empty() {
            let total: usize = self.preexisting.iter().map(|(_, n)| n).sum();
            let examples: Vec<String> = self
                .preexisting
                .iter()
                .take(5)
                .map(|(path, n)| format!("{} ({n})", path.display()))
                .collect();
            notes.push(format!(
                "the new names already occur {total} time(s) in the tree before renaming (e.g. \
                 {}); a later rename away from them would rewrite those too",
                examples.join(", ")
            ));
        }
        Summary {
            root: self.root.clone(),
            current: self.current.clone(),
            new: self.new.clone(),
            files_scanned: self.files_scanned,
            bytes_scanned: self.bytes_scanned,
            files_to_change: self.edits.iter().map(|e| e.rel.clone()).collect(),
            occurrences,
            renames: self
                .renames
                .iter()
                .map(|r| (r.from.clone(), r.final_path.clone()))
                .collect(),
            skipped: self.skipped.clone(),
            already_present: self.preexisting.clone(),
            notes,
        }
    }

    /// A per-file diff of the planned content changes (`max_lines` diff lines per file at
    /// most), followed by the path renames: what `--dry-run` prints.
    pub fn diff_summary(&self, max_lines: usize) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for edit in &self.edits {
            let diff = similar::TextDiff::from_lines(&edit.original, &edit.new);
            let (mut added, mut removed) = (0, 0);
            for change in diff.iter_all_changes() {
                match change.tag() {
                    similar::ChangeTag::Insert => added += 1,
                    similar::ChangeTag::Delete => removed += 1,
                    similar::ChangeTag::Equal => {}
                }
            }
            let replacements: usize = edit.counts.values().sum();
            let _ = writeln!(
                out,
                "M {}  (+{added} -{removed} lines, {replacements} replacement(s))",
                edit.rel.display()
            );
            let unified = diff.unified_diff().context_radius(0).to_string();
            let lines: Vec<&str> = unified.lines().collect();
            for line in lines.iter().take(max_lines) {
                let _ = writeln!(out, "    {line}");
            }
            if lines.len() > max_lines {
                let _ = writeln!(out, "    … {} more diff line(s)", lines.len() - max_lines);
            }
        }
        for rename in self.renames.iter().rev() {
            let kind = if rename.is_dir { "dir " } else { "file" };
            let _ = writeln!(
                out,
                "R {kind} {} → {}",
                rename.from.display(),
                rename
                    .to
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
        }
        out
    }
}

/// The new names in full: the image repository is the explicit one, or the default form
/// when the tree used the default form, or the current one with its names replaced.
fn new_project_names(current: &ProjectNames, new: &NewNames) -> Result<ProjectNames> {
    let kebab = heck::ToKebabCase::to_kebab_case(new.provider());
    let image_repository = match new.image_repository() {
        Some(image) => image.to_owned(),
        None if current.image_repository
            == default_image_repository(&current.project, &current.kebab()) =>
        {
            default_image_repository(new.project(), &kebab)
        }
        None => {
            let without_image = |names: &ProjectNames| ProjectNames {
                image_repository: String::new(),
                ..names.clone()
            };
            let partial = ProjectNames {
                project: new.project().to_owned(),
                provider: new.provider().to_owned(),
                image_repository: String::new(),
            };
            let mapping = Mapping::new(&without_image(current), &partial);
            let derived = scan::rewrite(&mapping, &current.image_repository, FileKind::Other)
                .map_or_else(|| current.image_repository.clone(), |(text, _)| text);
            validate_image_repository(
                &derived,
                "image_repository (derived from the current one; pass --image-repository)",
            )?;
            derived
        }
    };
    Ok(ProjectNames {
        project: new.project().to_owned(),
        provider: new.provider().to_owned(),
        image_repository,
    })
}

/// The spellings among `old` that the new names do not also use (those may legitimately
/// remain after the rename).
fn spellings_not_in(old: &[String], new: &ProjectNames) -> Vec<String> {
    let new_spellings: HashSet<String> = new.forms().into_iter().map(|(_, t)| t).collect();
    old.iter()
        .filter(|s| !new_spellings.contains(*s))
        .cloned()
        .collect()
}

/// The new names' spellings that are not also old spellings.
fn new_spellings_not_in(new: &ProjectNames, mapping: &Mapping) -> Vec<String> {
    let old: HashSet<String> = mapping.old_spellings().into_iter().collect();
    new.forms()
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| !old.contains(t))
        .collect()
}

/// Old spellings that must be gone after renaming to `new`.
pub(crate) fn verification_matchers(mapping: &Mapping, new: &ProjectNames) -> (Matcher, Matcher) {
    let old_only = Matcher::from_unsorted(spellings_not_in(&mapping.old_spellings(), new));
    let new_all = Matcher::from_unsorted(new.forms().into_iter().map(|(_, t)| t).collect());
    (old_only, new_all)
}

/// Go or Rust if the directory directly holds `.go` or `.rs` files, otherwise other.
fn dir_kind(dir: &Path) -> FileKind {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return FileKind::Other;
    };
    let mut kind = FileKind::Other;
    for entry in entries.flatten() {
        match entry.file_name().to_str().map(FileKind::of_file_name) {
            Some(FileKind::Go) => return FileKind::Go,
            Some(FileKind::Rust) => kind = FileKind::Rust,
            _ => {}
        }
    }
    kind
}

/// Refuses a path whose owner-write permission bit is clear. The bit is checked rather than
/// `access(2)` so that running as root does not silently overwrite protected files.
pub(crate) fn ensure_writable(path: &Path) -> Result<()> {
    let metadata = std::fs::symlink_metadata(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode();
    if mode & 0o200 == 0 {
        return Err(Error::ReadOnly {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

pub(crate) fn add_counts(into: &mut FormCounts, from: &FormCounts) {
    for (kind, n) in from {
        *into.entry(*kind).or_default() += n;
    }
}

/// What a plan will do, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The tree's root.
    pub root: PathBuf,
    /// Names now.
    pub current: ProjectNames,
    /// Names after.
    pub new: ProjectNames,
    /// Regular files read.
    pub files_scanned: usize,
    /// Their total size.
    pub bytes_scanned: u64,
    /// Files whose content changes.
    pub files_to_change: Vec<PathBuf>,
    /// Replacements per form, in contents and names.
    pub occurrences: BTreeMap<crate::names::FormKind, usize>,
    /// Renamed paths: (current, final), deepest first.
    pub renames: Vec<(PathBuf, PathBuf)>,
    /// Files looked at but not rewritten.
    pub skipped: Skipped,
    /// Files in which the new names already occur before renaming, with counts: renaming
    /// back later would rewrite these too, so A → B → A restores the tree only when this is
    /// empty.
    pub already_present: Vec<(PathBuf, usize)>,
    /// Things worth knowing before applying.
    pub notes: Vec<String>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Rename in {}", self.root.display())?;
        writeln!(
            f,
            "  project:          {} → {}",
            self.current.project, self.new.project
        )?;
        writeln!(
            f,
            "  provider:         {} → {}",
            self.current.provider, self.new.provider
        )?;
        writeln!(
            f,
            "  image repository: {} → {}",
            self.current.image_repository, self.new.image_repository
        )?;
        writeln!(
            f,
            "  scanned {} file(s), {} byte(s); {} file(s) to change, {} path(s) to rename",
            self.files_scanned,
            self.bytes_scanned,
            self.files_to_change.len(),
            self.renames.len()
        )?;
        if !self.occurrences.is_empty() {
            writeln!(f, "  occurrences per form:")?;
            for (kind, n) in &self.occurrences {
                writeln!(f, "    {:<20} {n}", kind.label())?;
            }
        }
        for (from, to) in self.renames.iter().rev() {
            writeln!(f, "  rename {} → {}", from.display(), to.display())?;
        }
        let skipped = [
            ("binary", &self.skipped.binary),
            ("not UTF-8", &self.skipped.non_utf8),
            ("symbolic link", &self.skipped.symlinks),
        ];
        for (what, paths) in skipped {
            if !paths.is_empty() {
                writeln!(f, "  left alone ({what}): {}", join_paths(paths, 10))?;
            }
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

pub(crate) fn join_paths(paths: &[PathBuf], max: usize) -> String {
    let mut shown: Vec<String> = paths
        .iter()
        .take(max)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > max {
        shown.push(format!("… and {} more", paths.len() - max));
    }
    shown.join(", ")
}
