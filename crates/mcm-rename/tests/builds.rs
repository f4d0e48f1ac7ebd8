//! A renamed crate still builds and passes its tests: a minimal provider-shaped crate
//! (library, binary, integration test naming the crate by its snake-case name) is renamed
//! with `--check` (which runs `cargo check`), then checked and tested again. This stands in
//! for the generated-provider test, which the template smoke test adds with the real
//! template.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::process::Command;

use mcm_rename::cli::{Prompt, RenameArgs, run};

struct NoTerminal;

impl Prompt for NoTerminal {
    fn is_interactive(&self) -> bool {
        false
    }
    fn confirm(&mut self, _question: &str) -> std::io::Result<bool> {
        Ok(false)
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn a_renamed_crate_builds_and_its_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join("machine-controller-manager-provider-sample-provider");
    let target = dir.path().join("target");
    fs::create_dir(&root).unwrap();
    write(
        &root,
        "Cargo.toml",
        "[package]\nname = \"machine-controller-manager-provider-sample-provider\"\n\
         version = \"0.1.0\"\nedition = \"2024\"\n\n[package.metadata.mcm-provider]\n\
         project = \"old-org\"\nprovider = \"SampleProvider\"\n\n[workspace]\n",
    );
    write(
        &root,
        "src/lib.rs",
        "//! The SampleProvider driver.\npub mod sample_provider;\n\
         pub use sample_provider::SampleProviderDriver;\n\
         pub const SAMPLE_PROVIDER_IMAGE: &str = \"ghcr.io/old-org/machine-controller-manager-provider-sample-provider\";\n",
    );
    write(
        &root,
        "src/sample_provider.rs",
        "/// Drives SampleProvider machines.\npub struct SampleProviderDriver;\n\n\
         impl SampleProviderDriver {\n    pub fn name(&self) -> &'static str {\n        \"sample-provider\"\n    }\n}\n",
    );
    write(
        &root,
        "src/main.rs",
        "fn main() {\n    let driver = machine_controller_manager_provider_sample_provider::SampleProviderDriver;\n    \
         println!(\"{}\", driver.name());\n}\n",
    );
    write(
        &root,
        "tests/sample_provider_driver.rs",
        "use machine_controller_manager_provider_sample_provider::{SAMPLE_PROVIDER_IMAGE, SampleProviderDriver};\n\n\
         #[test]\nfn names_follow_the_provider() {\n    assert_eq!(SampleProviderDriver.name(), \"sample-provider\");\n    \
         assert!(SAMPLE_PROVIDER_IMAGE.ends_with(\"/machine-controller-manager-provider-sample-provider\"));\n}\n",
    );

    // `check: true` runs `cargo check` in the renamed crate (what `--check` does); the
    // commands below then build and test it in a target directory of its own.
    let args = RenameArgs {
        project: "acme".into(),
        provider: "my-cloud".into(),
        path: root.clone(),
        image_repository: None,
        dry_run: false,
        yes: false,
        check: true,
    };
    let mut out = Vec::new();
    run(&args, &mut NoTerminal, &mut out).unwrap().unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("cargo check passed"), "{out}");
    assert!(root.join("src/my_cloud.rs").is_file());
    assert!(root.join("tests/my_cloud_driver.rs").is_file());

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for command in [["check", "--all-targets"], ["test", "--quiet"]] {
        let output = Command::new(&cargo)
            .args(command)
            .arg("--offline")
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cargo {command:?} in the renamed crate failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let lib = fs::read_to_string(root.join("src/lib.rs")).unwrap();
    assert!(lib.contains("pub use my_cloud::MyCloudDriver;"), "{lib}");
}
