//! Checks of a rendered (or renamed) tree that need no compiler: nothing of the template is
//! left unrendered, no name of the template's sample provider remains, scripts are still
//! executable, every YAML file parses, and Cargo.toml records the names rename-project
//! will start from.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use mcm_rename::ProjectNames;

use super::report::Outcome;

/// Scripts the template ships; they must arrive executable.
const SCRIPTS: [&str; 1] = [".githooks/pre-commit"];

/// Fails when `dir` or a parent holds a Cargo.toml: cargo-generate would add the generated
/// crate to that workspace, and cargo would build it as part of it.
pub fn outside_any_workspace(dir: &Path) -> anyhow::Result<()> {
    for ancestor in dir.ancestors() {
        let manifest = ancestor.join("Cargo.toml");
        if manifest.is_file() {
            bail!(
                "{} is inside the Cargo project of {}: generate outside any workspace (choose \
                 another --dir)",
                dir.display(),
                manifest.display()
            );
        }
    }
    Ok(())
}

/// The names of the template's placeholder provider, which must never appear rendered.
fn sample_names() -> ProjectNames {
    ProjectNames {
        project: "gardener".to_owned(),
        provider: "SampleProvider".to_owned(),
        image_repository: "ghcr.io/gardener/machine-controller-manager-provider-sample-provider"
            .to_owned(),
    }
}

/// Checks a freshly generated tree.
pub fn rendered_tree(root: &Path, names: &ProjectNames) -> Outcome {
    let started = Instant::now();
    let problems = rendered_problems(root, names);
    finish(started, problems)
}

fn rendered_problems(root: &Path, names: &ProjectNames) -> Vec<String> {
    let mut problems = Vec::new();
    let files = match files(root) {
        Ok(files) => files,
        Err(error) => return vec![format!("{error:#}")],
    };
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file_name.ends_with(".liquid")
            || file_name.ends_with(".rhai")
            || file_name == "cargo-generate.toml"
        {
            problems.push(format!("{rel}: template file left in the output"));
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            let unrendered = line.contains("{%")
                || line.contains("%}")
                || line
                    .match_indices("{{")
                    .any(|(at, _)| !line[..at].ends_with('$'));
            if unrendered {
                problems.push(format!(
                    "{rel}:{}: unrendered template syntax: {}",
                    number + 1,
                    line.trim()
                ));
            }
            let lower = line.to_ascii_lowercase();
            if ["sampleprovider", "sample-provider", "sample_provider"]
                .iter()
                .any(|s| lower.contains(s))
            {
                problems.push(format!(
                    "{rel}:{}: sample provider name left: {}",
                    number + 1,
                    line.trim()
                ));
            }
        }
        if text.starts_with("#!") && !is_executable(path) {
            problems.push(format!("{rel}: script lost its executable bit"));
        }
    }
    for script in SCRIPTS {
        let path = root.join(script);
        if !path.is_file() || !is_executable(&path) {
            problems.push(format!("{script}: missing or not executable"));
        }
    }
    match mcm_rename::find_leftovers(root, &sample_names(), names) {
        Ok(leftovers) => {
            problems.extend(leftovers.iter().map(|l| format!("sample name left: {l}")))
        }
        Err(error) => problems.push(format!("scanning for sample names: {error}")),
    }
    problems.extend(yaml_problems(root, &files));
    problems.extend(name_problems(root, names));
    problems
}

/// Checks a tree after `make rename-project`: no old name anywhere, the new names recorded.
pub fn renamed_tree(root: &Path, old: &ProjectNames, new: &ProjectNames) -> Outcome {
    let started = Instant::now();
    let mut problems = Vec::new();
    match mcm_rename::find_leftovers(root, old, new) {
        Ok(leftovers) => problems.extend(leftovers.iter().map(|l| format!("old name left: {l}"))),
        Err(error) => problems.push(format!("scanning for old names: {error}")),
    }
    match files(root) {
        Ok(files) => problems.extend(yaml_problems(root, &files)),
        Err(error) => problems.push(format!("{error:#}")),
    }
    problems.extend(name_problems(root, new));
    finish(started, problems)
}

fn finish(started: Instant, problems: Vec<String>) -> Outcome {
    let seconds = started.elapsed().as_secs_f64();
    if problems.is_empty() {
        Outcome::passed(seconds)
    } else {
        for problem in &problems {
            println!("  problem: {problem}");
        }
        Outcome::failed(
            seconds,
            &format!("{} problem(s), first: {}", problems.len(), problems[0]),
        )
    }
}

fn name_problems(root: &Path, expected: &ProjectNames) -> Vec<String> {
    match mcm_rename::read_current_names(root) {
        Ok(current) if current.names == *expected => Vec::new(),
        Ok(current) => vec![format!(
            "Cargo.toml records {:?}, expected {:?}",
            current.names, expected
        )],
        Err(error) => vec![format!("Cargo.toml names: {error}")],
    }
}

fn yaml_problems(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut parsed = 0;
    for path in files {
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                problems.push(format!("{rel}: {error}"));
                continue;
            }
        };
        match serde_saphyr::from_multiple::<serde_json::Value>(&text) {
            Ok(_) => parsed += 1,
            Err(error) => problems.push(format!("{rel}: YAML does not parse: {error}")),
        }
    }
    if parsed < 9 {
        problems.push(format!(
            "only {parsed} YAML file(s) parsed; the template ships 9"
        ));
    }
    problems
}

/// Every file of the tree except `.git` and `target`.
fn files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !matches!(entry.file_name().to_str(), Some(".git" | "target")) {
                    stack.push(path);
                }
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The toolkit crates a generated provider depends on, with the requirement each template
    /// manifest states, e.g. `("mcm-api", "0.1")` from `mcm-api = "0.1"`.
    fn template_requirements(manifest: &str) -> Vec<(String, String)> {
        manifest
            .lines()
            .filter_map(|line| {
                let (name, requirement) = line.split_once(" = \"")?;
                let name = name.trim();
                if !name.starts_with("mcm-") {
                    return None;
                }
                Some((name.to_owned(), requirement.strip_suffix('"')?.to_owned()))
            })
            .collect()
    }

    /// Whether a caret requirement like `0.1` or `0.1.2` accepts `version` (`0.1.0`): the same
    /// leading non-zero component and nothing below the requirement.
    fn caret_accepts(requirement: &str, version: &str) -> bool {
        let parse =
            |text: &str| -> Option<Vec<u64>> { text.split('.').map(|p| p.parse().ok()).collect() };
        let (Some(req), Some(ver)) = (parse(requirement), parse(version)) else {
            return false;
        };
        let significant = req
            .iter()
            .position(|&n| n != 0)
            .unwrap_or(req.len().saturating_sub(1));
        req.iter()
            .enumerate()
            .all(|(i, &r)| match i.cmp(&significant) {
                std::cmp::Ordering::Less | std::cmp::Ordering::Equal => ver.get(i) == Some(&r),
                std::cmp::Ordering::Greater => ver.get(i).is_some_and(|&v| v >= r),
            })
    }

    #[test]
    fn template_requirements_accept_the_toolkit_crates_versions() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let workspace = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
        let version = workspace
            .lines()
            .skip_while(|l| *l != "[workspace.package]")
            .find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'))
            .unwrap()
            .to_owned();
        let mut seen = BTreeSet::new();
        for manifest in [
            "template/Cargo.toml.liquid",
            "template/xtask/Cargo.toml.liquid",
        ] {
            let text = std::fs::read_to_string(repo.join(manifest)).unwrap();
            let requirements = template_requirements(&text);
            assert!(
                !requirements.is_empty(),
                "{manifest} names no toolkit crate"
            );
            for (name, requirement) in requirements {
                assert!(
                    repo.join("crates").join(&name).join("Cargo.toml").is_file(),
                    "{manifest}: no crate {name}"
                );
                assert!(
                    caret_accepts(&requirement, &version),
                    "{manifest}: {name} = \"{requirement}\" does not accept the crate's version {version}"
                );
                seen.insert(name);
            }
        }
        // Every crate the runtime_path patch table redirects is one the template uses.
        let patch =
            std::fs::read_to_string(repo.join("template/.cargo/config.toml.liquid")).unwrap();
        for name in &seen {
            assert!(
                patch.contains(&format!(
                    "{name} = {{ path = \"{{{{runtime_path}}}}/crates/{name}\" }}"
                )),
                "patch lacks {name}"
            );
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
    }

    #[test]
    fn caret_requirements() {
        assert!(caret_accepts("0.1", "0.1.0"));
        assert!(caret_accepts("0.1", "0.1.7"));
        assert!(!caret_accepts("0.1", "0.2.0"));
        assert!(caret_accepts("0.1.2", "0.1.3"));
        assert!(!caret_accepts("0.1.2", "0.1.1"));
        assert!(caret_accepts("1", "1.4.0"));
        assert!(!caret_accepts("1", "2.0.0"));
        assert!(!caret_accepts("x", "0.1.0"));
    }

    #[test]
    fn a_parent_workspace_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        outside_any_workspace(&inner).unwrap();
        std::fs::write(dir.path().join("a/Cargo.toml"), "[workspace]\n").unwrap();
        let error = outside_any_workspace(&inner).unwrap_err().to_string();
        assert!(error.contains("a/Cargo.toml"), "{error}");
    }

    #[test]
    fn unrendered_syntax_sample_names_and_lost_exec_bits_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("ok.yaml"), "key: ${{ github.ref }}\n").unwrap();
        std::fs::write(
            root.join("bad.rs"),
            "// {{provider}}\nlet x = \"SampleProvider\";\n",
        )
        .unwrap();
        std::fs::write(root.join("lost.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(root.join("left.rs.liquid"), "").unwrap();
        let names = ProjectNames {
            project: "acme".into(),
            provider: "Hetzner".into(),
            image_repository: "ghcr.io/acme/machine-controller-manager-provider-hetzner".into(),
        };
        let problems = rendered_problems(root, &names);
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("bad.rs:1: unrendered template syntax"), "{problems:?}");
        assert!(
            !has("ok.yaml:1: unrendered"),
            "GitHub Actions expressions are fine: {problems:?}"
        );
        assert!(has("bad.rs:2: sample provider name left"), "{problems:?}");
        assert!(
            has("lost.sh: script lost its executable bit"),
            "{problems:?}"
        );
        assert!(has("left.rs.liquid: template file left"), "{problems:?}");
        assert!(has(".githooks/pre-commit: missing"), "{problems:?}");
        assert!(has("only 1 YAML"), "{problems:?}");
        assert!(has("Cargo.toml names"), "{problems:?}");
    }
}
