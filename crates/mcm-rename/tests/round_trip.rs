//! Round trip: for random valid names A and B, renaming a generated provider tree A → B → A
//! gives back the original tree byte for byte (contents, names, modes), and A → B → C gives
//! the same tree as A → C.
//!
//! The generated tree uses every form in the places a provider uses it (see
//! docs/rename-project.md, "Forms and context"): kebab next to `-` or alone in YAML/Markdown,
//! snake next to `_` or alone in Rust, lowerCamel before a camel hump, flat alone in Go, ...
//! Those are the contexts from which a form can be recovered after passing through a
//! one-word name, where several forms spell the same text. The property is stated for trees
//! in which the new names do not already occur (the plan reports when they do).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use mcm_rename::{NewNames, RenamePlan, validate_project, validate_provider};
use proptest::prelude::*;
use support::{assert_same, manifest, snapshot};

/// A provider name as an author might write it: 1–3 words in one of the usual styles.
fn provider_name() -> impl Strategy<Value = String> {
    let word = "[bcdfghjklmnpqrstvwxz][aeiou][a-z0-9]{0,4}";
    (prop::collection::vec(word, 1..=3), 0..5usize)
        .prop_map(|(words, style)| {
            let joined = words.join("-");
            match style {
                0 => joined,
                1 => joined.to_snake_case(),
                2 => joined.to_upper_camel_case(),
                3 => joined.to_lower_camel_case(),
                _ => joined.to_shouty_snake_case(),
            }
        })
        .prop_filter("valid provider name", |p| validate_provider(p).is_ok())
}

fn project_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-z0-9]{1,8}(-[a-z0-9]{2,6})?"
        .prop_filter("valid project", |p| validate_project(p).is_ok())
}

/// Lines of filler text, including near misses that must never be renamed.
fn filler(seed: &[u8], provider: &str) -> String {
    const WORDS: &[&str] = &[
        "machine",
        "laws",
        "draw",
        "node",
        "the",
        "cloud",
        "zone",
        "region",
        "disk",
        "retry",
        "12",
        "{",
        "}",
        ";",
        "--",
        "__",
        "/",
        ".",
        "\"quoted\"",
        "λ",
        "✓",
    ];
    let flat = provider.to_kebab_case().replace('-', "");
    let near_misses = [
        format!("re{flat}"),
        format!("{flat}s"),
        format!("{}s", provider.to_upper_camel_case()),
        format!("x{}", provider.to_kebab_case()),
        format!("{}9", provider.to_snake_case()),
    ];
    let mut out = String::new();
    for (i, byte) in seed.iter().enumerate() {
        let index = usize::from(*byte);
        if index % 7 == 0 {
            out.push_str(&near_misses[index % near_misses.len()]);
        } else {
            out.push_str(WORDS[index % WORDS.len()]);
        }
        out.push(if i % 9 == 8 { '\n' } else { ' ' });
    }
    out.push('\n');
    out
}

/// Writes a provider-like tree named after (project, provider).
fn write_tree(root: &Path, project: &str, provider: &str, seed: &[u8]) {
    let kebab = provider.to_kebab_case();
    let snake = provider.to_snake_case();
    let upper = provider.to_upper_camel_case();
    let lower = provider.to_lower_camel_case();
    let shouty = provider.to_shouty_snake_case();
    let flat = kebab.replace('-', "");
    let flat_upper = flat.to_uppercase();
    let krate = format!("machine-controller-manager-provider-{kebab}");
    let module = format!("github.com/{project}/{krate}");
    let image = format!("ghcr.io/{}/{krate}", project.to_lowercase());
    let fill = filler(seed, provider);
    let files: Vec<(String, String)> = vec![
        ("Cargo.toml".into(), manifest(project, provider)),
        (
            "README.md".into(),
            format!(
                "# {krate}\n\nA {upper} provider. Module {module}, image {image}:v1.\n\
                 Set {shouty}_TOKEN; see the {kebab}-docs and {lower}Client.\n\
                 provider: {kebab}\nenv: {shouty}\n\n{fill}"
            ),
        ),
        (
            format!("src/{snake}/mod.rs"),
            format!(
                "//! The {upper} driver.\npub mod {snake}_driver;\n\
                 pub const {shouty}: &str = \"{shouty}\";\nuse {snake}::x;\n\
                 fn new_{snake}() -> {upper}Driver {{ let {lower}Client = 1; }}\n\
                 // crate machine_controller_manager_provider_{snake}\n{fill}"
            ),
        ),
        (
            format!("src/{snake}/{snake}_driver.rs"),
            format!("pub struct {upper}Driver;\n{fill}"),
        ),
        (
            format!("go/pkg/{flat}/{flat}.go"),
            format!(
                "package {flat}\n\nimport \"{module}/pkg/{flat}\"\n\n\
                 func new{upper}Client() {{ return \"{flat_upper}\" }}\nconst {shouty}_X = 1\n"
            ),
        ),
        (
            format!("deploy/{kebab}.yaml"),
            format!(
                "name: {krate}\nlabels: {{app: {kebab}}}\nimage: {image}:latest\nenv: {shouty}_TOKEN\n"
            ),
        ),
        (
            format!("scripts/run-{kebab}.sh"),
            format!("#!/bin/sh\nexec {krate} \"$@\"\n"),
        ),
        ("notes/filler.txt".into(), fill.clone()),
    ];
    for (rel, content) in files {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
    }
    let script = root.join(format!("scripts/run-{kebab}.sh"));
    fs::set_permissions(script, fs::Permissions::from_mode(0o750)).unwrap();
    fs::write(root.join("assets.bin"), [0u8, 1, 2, 255, 0, 7]).unwrap();
}

fn rename(root: &Path, project: &str, provider: &str) -> Result<(), TestCaseError> {
    let plan = RenamePlan::prepare(root, &NewNames::new(project, provider, None).unwrap()).unwrap();
    prop_assume!(plan.summary().already_present.is_empty());
    let report = plan.apply().unwrap();
    prop_assert_eq!(report.unexpected_leftovers().count(), 0, "{}", report);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_to_b_to_a_is_byte_identical(
        a_project in project_name(),
        a_provider in provider_name(),
        b_project in project_name(),
        b_provider in provider_name(),
        seed in prop::collection::vec(any::<u8>(), 20..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &a_project, &a_provider, &seed);
        let original = snapshot(dir.path(), &[], false);
        rename(dir.path(), &b_project, &b_provider)?;
        rename(dir.path(), &a_project, &a_provider)?;
        assert_same(&snapshot(dir.path(), &[], false), &original, "A → B → A");
    }

    #[test]
    fn a_to_b_to_c_equals_a_to_c(
        a_provider in provider_name(),
        b_provider in provider_name(),
        c_provider in provider_name(),
        seed in prop::collection::vec(any::<u8>(), 20..100),
    ) {
        let via_b = tempfile::tempdir().unwrap();
        let direct = tempfile::tempdir().unwrap();
        write_tree(via_b.path(), "org-a", &a_provider, &seed);
        write_tree(direct.path(), "org-a", &a_provider, &seed);
        rename(via_b.path(), "org-b", &b_provider)?;
        rename(via_b.path(), "org-c", &c_provider)?;
        rename(direct.path(), "org-c", &c_provider)?;
        assert_same(&snapshot(via_b.path(), &[], false), &snapshot(direct.path(), &[], false), "A → B → C vs A → C");
    }
}
