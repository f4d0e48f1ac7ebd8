//! The Dockerfile builds in one stage and runs in a minimal one as a non-root user. There
//! is no container engine in CI, so this reads the Dockerfile's instructions and checks
//! the properties the image must have.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// A `FROM` stage: its base image, its name, and its instructions (keyword, arguments).
#[derive(Debug)]
struct Stage {
    base: String,
    name: Option<String>,
    instructions: Vec<(String, String)>,
}

/// Splits a Dockerfile into stages (comments and line continuations handled).
fn stages(text: &str) -> Vec<Stage> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            logical.push(std::mem::take(&mut current));
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical.into_iter().filter(|l| !l.is_empty()) {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let keyword = keyword.to_ascii_uppercase();
        let args = args.trim().to_owned();
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                _ => None,
            };
            stages.push(Stage {
                base: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else {
            stages
                .last_mut()
                .expect("instruction before FROM")
                .instructions
                .push((keyword, args));
        }
    }
    stages
}

fn dockerfile() -> Vec<Stage> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    stages(&text)
}

#[test]
fn builds_in_a_builder_stage_and_runs_from_a_minimal_one() {
    let stages = dockerfile();
    assert!(
        stages.len() >= 2,
        "expected a multi-stage build, got {stages:?}"
    );
    let builder = &stages[0];
    assert!(
        builder.base.contains("rust:1.95"),
        "builder uses the pinned toolchain: {}",
        builder.base
    );
    assert!(
        builder
            .instructions
            .iter()
            .any(|(k, a)| k == "RUN" && a.contains("cargo build --release --locked")),
        "builder compiles with the committed Cargo.lock"
    );
    let runtime = stages.last().unwrap();
    assert!(
        runtime.base.starts_with("gcr.io/distroless/"),
        "minimal runtime base: {}",
        runtime.base
    );
    let builder_name = builder.name.as_deref().expect("the builder stage is named");
    assert!(runtime.instructions.iter().any(|(k, a)| k == "COPY"
        && a.contains(&format!("--from={builder_name}"))
        && a.contains("/machine-controller")));
    assert!(
        !runtime.instructions.iter().any(|(k, _)| k == "RUN"),
        "the runtime stage runs nothing (no shell in a minimal image)"
    );
    assert!(
        runtime
            .instructions
            .iter()
            .any(|(k, a)| k == "ENTRYPOINT" && a.contains("/machine-controller"))
    );
}

#[test]
fn the_image_runs_as_a_non_root_user() {
    let stages = dockerfile();
    let runtime = stages.last().unwrap();
    let users: Vec<&str> = runtime
        .instructions
        .iter()
        .filter(|(k, _)| k == "USER")
        .map(|(_, a)| a.as_str())
        .collect();
    let user = users.last().expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(!matches!(uid, "root" | "0"), "runs as root: USER {user}");
    assert!(
        uid.parse::<u32>().is_ok_and(|n| n >= 1000),
        "use a numeric non-root UID (Kubernetes runAsNonRoot checks numbers): USER {user}"
    );
    // The Deployment's securityContext agrees with the image.
    let deployment = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("kubernetes/deployment/deployment.yaml"),
    )
    .unwrap();
    assert!(
        deployment.contains(&format!("runAsUser: {uid}")),
        "deployment.yaml runs as another UID than the image"
    );
}

#[test]
fn the_parser_sees_what_it_should() {
    let stages = stages("# c\nFROM a AS b\nRUN x \\\n  y\nFROM c\nUSER 1:1\n");
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name.as_deref(), Some("b"));
    assert_eq!(
        stages[0].instructions,
        [("RUN".to_owned(), "x  y".to_owned())]
    );
    assert_eq!(stages[1].base, "c");
    assert!(stages[1].name.is_none());
}
