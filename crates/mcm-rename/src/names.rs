//! The names a provider repository carries (GitHub project, provider name, image
//! repository), every textual form derived from them, and the rules a new name must meet.
//!
//! Validation happens here, before anything reads or writes the tree, so a bad name is
//! rejected with the rule it broke and a valid example instead of producing a repository
//! that no longer builds or cannot be deployed.

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use crate::error::{Error, Result};

/// The fixed part of every provider's crate, binary and repository name.
pub const NAME_PREFIX: &str = "machine-controller-manager-provider-";

/// Longest Kubernetes object name usable as a DNS-1123 label; the provider's full name
/// (`machine-controller-manager-provider-<kebab>`) is used as one (Deployment, container).
const DNS_LABEL_MAX: usize = 63;

/// GitHub's limit for user and organisation names.
const GITHUB_OWNER_MAX: usize = 39;

/// Provider names that are words the toolkit itself uses in every generated provider
/// (crate, type and directory names). A provider called `driver` or `cloud` would make a
/// later rename rewrite `Driver` or `mcm-simulated-cloud` too.
const RESERVED_PROVIDER_NAMES: &[&str] = &[
    "machine",
    "machines",
    "controller",
    "manager",
    "provider",
    "mcm",
    "api",
    "driver",
    "cloud",
    "simulated",
    "simulated-cloud",
    "kit",
    "test",
    "test-kit",
    "tests",
    "rename",
    "class",
    "node",
    "secret",
    "status",
    "code",
    "codes",
    "xtask",
    "main",
    "lib",
    "src",
    "bin",
    "build",
    "target",
    "docs",
    "crate",
    "core",
    "std",
    "alloc",
];

/// Rust keywords (strict, reserved and edition-2024) that cannot name a module or type.
const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// The names a repository should carry after the rename, as the user gave them.
///
/// Build it with [`NewNames::new`], which validates; the fields stay private so an invalid
/// value can never reach the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNames {
    project: String,
    provider: String,
    image_repository: Option<String>,
}

impl NewNames {
    /// Validates the new GitHub project (user or organisation), the provider name as the
    /// author writes it (`AWS`, `Hetzner`, `my-cloud`, `SampleProvider`) and, optionally, an
    /// explicit image repository. Without one, the image repository is derived: the
    /// default form for the new names when the tree used the default form, otherwise the
    /// old value with its names replaced.
    pub fn new(
        project: impl Into<String>,
        provider: impl Into<String>,
        image_repository: Option<String>,
    ) -> Result<Self> {
        let project = project.into();
        let provider = provider.into();
        validate_project(&project)?;
        validate_provider(&provider)?;
        if let Some(image) = &image_repository {
            validate_image_repository(image, "--image-repository")?;
        }
        let derived_image = default_image_repository(&project, &provider.to_kebab_case());
        validate_image_repository(&derived_image, "--project/--provider (derived image)")?;
        Ok(Self {
            project,
            provider,
            image_repository,
        })
    }

    /// The GitHub project (user or organisation).
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The provider name as written.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The explicit image repository, if one was given.
    pub fn image_repository(&self) -> Option<&str> {
        self.image_repository.as_deref()
    }
}

/// The complete set of names of one repository state (current or new).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectNames {
    /// GitHub user or organisation.
    pub project: String,
    /// Provider name as the author wrote it.
    pub provider: String,
    /// Container image repository (no tag).
    pub image_repository: String,
}

impl ProjectNames {
    /// The provider name in kebab case, the form used in crate and Kubernetes names.
    pub fn kebab(&self) -> String {
        self.provider.to_kebab_case()
    }

    /// The full crate / binary / repository name.
    pub fn crate_name(&self) -> String {
        format!("{NAME_PREFIX}{}", self.kebab())
    }

    /// Every form of these names, in the canonical order that breaks ties between forms
    /// that happen to spell the same text.
    pub fn forms(&self) -> Vec<(FormKind, String)> {
        let kebab = self.kebab();
        let snake = self.provider.to_snake_case();
        let flat = kebab.replace('-', "");
        let module_path = format!("{}/{NAME_PREFIX}{kebab}", self.project);
        vec![
            (FormKind::GoModule, format!("github.com/{module_path}")),
            (FormKind::ImageRepository, self.image_repository.clone()),
            (FormKind::ModulePath, module_path),
            (FormKind::CrateKebab, format!("{NAME_PREFIX}{kebab}")),
            (
                FormKind::CrateSnake,
                format!("{}{snake}", NAME_PREFIX.replace('-', "_")),
            ),
            (FormKind::Kebab, kebab),
            (FormKind::Snake, snake),
            (FormKind::UpperCamel, self.provider.to_upper_camel_case()),
            (FormKind::LowerCamel, self.provider.to_lower_camel_case()),
            (FormKind::ShoutySnake, self.provider.to_shouty_snake_case()),
            (FormKind::Flat, flat.clone()),
            (FormKind::FlatUpper, flat.to_uppercase()),
            (FormKind::Literal, self.provider.clone()),
        ]
    }
}

/// The image repository a generated provider uses unless the author chose another one.
/// Registries only accept lowercase paths, so the project is lowercased.
pub fn default_image_repository(project: &str, kebab: &str) -> String {
    format!("ghcr.io/{}/{NAME_PREFIX}{kebab}", project.to_lowercase())
}

/// One textual form of the names. Reports count occurrences per form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FormKind {
    /// `github.com/<project>/machine-controller-manager-provider-<kebab>`
    GoModule,
    /// The container image repository.
    ImageRepository,
    /// `<project>/machine-controller-manager-provider-<kebab>`
    ModulePath,
    /// `machine-controller-manager-provider-<kebab>`
    CrateKebab,
    /// `machine_controller_manager_provider_<snake>`
    CrateSnake,
    /// `sample-provider`
    Kebab,
    /// `sample_provider`
    Snake,
    /// `SampleProvider`
    UpperCamel,
    /// `sampleProvider`
    LowerCamel,
    /// `SAMPLE_PROVIDER`
    ShoutySnake,
    /// `sampleprovider`
    Flat,
    /// `SAMPLEPROVIDER`
    FlatUpper,
    /// The provider name exactly as written, where it differs from every other form.
    Literal,
}

impl FormKind {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            FormKind::GoModule => "Go module path",
            FormKind::ImageRepository => "image repository",
            FormKind::ModulePath => "org/repo path",
            FormKind::CrateKebab => "crate name (kebab)",
            FormKind::CrateSnake => "crate name (snake)",
            FormKind::Kebab => "kebab-case",
            FormKind::Snake => "snake_case",
            FormKind::UpperCamel => "UpperCamelCase",
            FormKind::LowerCamel => "lowerCamelCase",
            FormKind::ShoutySnake => "SHOUTY_SNAKE_CASE",
            FormKind::Flat => "flatcase",
            FormKind::FlatUpper => "FLATUPPERCASE",
            FormKind::Literal => "as written",
        }
    }
}

impl std::fmt::Display for FormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

fn invalid(field: &'static str, value: &str, rule: String, example: &'static str) -> Error {
    Error::InvalidName {
        field,
        value: value.to_owned(),
        rule,
        example,
    }
}

/// A GitHub user or organisation: ASCII letters and digits, single inner hyphens, at most
/// 39 characters.
pub fn validate_project(project: &str) -> Result<()> {
    const FIELD: &str = "--project (GitHub user or organisation)";
    const EXAMPLE: &str = "my-org";
    if project.is_empty() {
        return Err(invalid(
            FIELD,
            project,
            "it must not be empty".into(),
            EXAMPLE,
        ));
    }
    if project.len() > GITHUB_OWNER_MAX {
        return Err(invalid(
            FIELD,
            project,
            format!("GitHub names have at most {GITHUB_OWNER_MAX} characters"),
            EXAMPLE,
        ));
    }
    if !project
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(invalid(
            FIELD,
            project,
            "GitHub names hold only ASCII letters, digits and hyphens".into(),
            EXAMPLE,
        ));
    }
    if project.starts_with('-') || project.ends_with('-') || project.contains("--") {
        return Err(invalid(
            FIELD,
            project,
            "GitHub names neither start nor end with a hyphen and have no double hyphens".into(),
            EXAMPLE,
        ));
    }
    Ok(())
}

/// The provider name as written, checked through every form it is used in.
pub fn validate_provider(provider: &str) -> Result<()> {
    const FIELD: &str = "--provider";
    const EXAMPLE: &str = "my-cloud";
    let Some(first) = provider.chars().next() else {
        return Err(invalid(
            FIELD,
            provider,
            "it must not be empty".into(),
            EXAMPLE,
        ));
    };
    if !first.is_ascii_alphabetic() {
        return Err(invalid(
            FIELD,
            provider,
            "it must start with an ASCII letter (it becomes a Rust identifier and a DNS-1123 \
             label)"
                .into(),
            EXAMPLE,
        ));
    }
    if !provider
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            FIELD,
            provider,
            "it may hold only ASCII letters, digits, '-' and '_'".into(),
            EXAMPLE,
        ));
    }
    let kebab = provider.to_kebab_case();
    if !is_dns1123_label(&kebab) {
        return Err(invalid(
            FIELD,
            provider,
            format!(
                "its kebab-case form `{kebab}` must be a DNS-1123 label (lowercase letters, \
                 digits and inner '-')"
            ),
            EXAMPLE,
        ));
    }
    let full = format!("{NAME_PREFIX}{kebab}");
    if full.len() > DNS_LABEL_MAX {
        return Err(invalid(
            FIELD,
            provider,
            format!(
                "the provider's full name `{full}` has {} characters but Kubernetes names \
                 (DNS-1123 labels) allow {DNS_LABEL_MAX}, so the kebab-case form may have at \
                 most {} characters",
                full.len(),
                DNS_LABEL_MAX - NAME_PREFIX.len()
            ),
            EXAMPLE,
        ));
    }
    for (form, text) in [
        ("snake_case", provider.to_snake_case()),
        ("UpperCamelCase", provider.to_upper_camel_case()),
        ("lowerCamelCase", provider.to_lower_camel_case()),
    ] {
        if RUST_KEYWORDS.contains(&text.as_str()) {
            return Err(invalid(
                FIELD,
                provider,
                format!(
                    "its {form} form `{text}` is a Rust keyword and cannot name a module or type"
                ),
                EXAMPLE,
            ));
        }
    }
    if RESERVED_PROVIDER_NAMES.contains(&kebab.as_str()) {
        return Err(invalid(
            FIELD,
            provider,
            format!(
                "`{kebab}` is a word the toolkit itself uses in crate, type and directory names \
                 of every provider, so renaming would rewrite those as well; choose a specific \
                 name"
            ),
            EXAMPLE,
        ));
    }
    Ok(())
}

/// A container image repository without tag: lowercase ASCII path components separated by
/// '/', each made of letters and digits joined by '.', '_' or '-' (a registry host may
/// carry a `:port`).
pub fn validate_image_repository(image: &str, field: &'static str) -> Result<()> {
    const EXAMPLE: &str = "ghcr.io/my-org/machine-controller-manager-provider-my-cloud";
    if image.is_empty() || image.len() > 255 {
        return Err(invalid(
            field,
            image,
            "it must have 1 to 255 characters".into(),
            EXAMPLE,
        ));
    }
    for (index, component) in image.split('/').enumerate() {
        let component = if index == 0 {
            component.split_once(':').map_or(component, |(host, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() {
                    host
                } else {
                    "!"
                }
            })
        } else {
            component
        };
        let bytes = component.as_bytes();
        let well_formed = !bytes.is_empty()
            && bytes
                .first()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes
                .last()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes.iter().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if !well_formed {
            return Err(invalid(
                field,
                image,
                format!(
                    "image repository path component `{component}` must be lowercase letters \
                     and digits joined by '.', '_' or '-' (no tag)"
                ),
                EXAMPLE,
            ));
        }
    }
    Ok(())
}

/// DNS-1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric.
fn is_dns1123_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= DNS_LABEL_MAX
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms_of(provider: &str) -> Vec<String> {
        let names = ProjectNames {
            project: "org".into(),
            provider: provider.into(),
            image_repository: String::new(),
        };
        names
            .forms()
            .into_iter()
            .filter(|(kind, _)| {
                !matches!(
                    kind,
                    FormKind::GoModule
                        | FormKind::ImageRepository
                        | FormKind::ModulePath
                        | FormKind::CrateKebab
                        | FormKind::CrateSnake
                )
            })
            .map(|(_, text)| text)
            .collect()
    }

    #[test]
    fn case_forms_follow_the_contract_table() {
        // kebab, snake, UpperCamel, lowerCamel, SHOUTY, flat, FLAT, literal
        assert_eq!(
            forms_of("AWS"),
            ["aws", "aws", "Aws", "aws", "AWS", "aws", "AWS", "AWS"]
        );
        assert_eq!(
            forms_of("my-cloud"),
            [
                "my-cloud", "my_cloud", "MyCloud", "myCloud", "MY_CLOUD", "mycloud", "MYCLOUD",
                "my-cloud"
            ]
        );
        assert_eq!(
            forms_of("SampleProvider"),
            [
                "sample-provider",
                "sample_provider",
                "SampleProvider",
                "sampleProvider",
                "SAMPLE_PROVIDER",
                "sampleprovider",
                "SAMPLEPROVIDER",
                "SampleProvider"
            ]
        );
    }

    #[test]
    fn org_forms_and_default_image() {
        let names = ProjectNames {
            project: "My-Org".into(),
            provider: "Hetzner".into(),
            image_repository: default_image_repository("My-Org", "hetzner"),
        };
        let forms = names.forms();
        let get = |k: FormKind| {
            forms
                .iter()
                .find(|(kind, _)| *kind == k)
                .map(|(_, t)| t.clone())
        };
        assert_eq!(
            get(FormKind::GoModule).as_deref(),
            Some("github.com/My-Org/machine-controller-manager-provider-hetzner")
        );
        assert_eq!(
            get(FormKind::ImageRepository).as_deref(),
            Some("ghcr.io/my-org/machine-controller-manager-provider-hetzner")
        );
        assert_eq!(
            get(FormKind::CrateSnake).as_deref(),
            Some("machine_controller_manager_provider_hetzner")
        );
    }

    fn rule_of(result: Result<()>) -> String {
        match result {
            Err(Error::InvalidName { rule, .. }) => rule,
            other => panic!("expected InvalidName, got {other:?}"),
        }
    }

    #[test]
    fn project_rules() {
        for ok in ["gardener", "my-org", "A1", &"a".repeat(39)] {
            assert!(validate_project(ok).is_ok(), "{ok} should be valid");
        }
        assert!(rule_of(validate_project("")).contains("empty"));
        assert!(rule_of(validate_project(&"a".repeat(40))).contains("39"));
        assert!(rule_of(validate_project("my_org")).contains("hyphens"));
        assert!(rule_of(validate_project("my/org")).contains("hyphens"));
        assert!(rule_of(validate_project("-org")).contains("start"));
        assert!(rule_of(validate_project("my--org")).contains("double"));
    }

    #[test]
    fn provider_rules() {
        for ok in [
            "AWS",
            "Hetzner",
            "my-cloud",
            "SampleProvider",
            "ec2-cloud",
            "open_stack",
        ] {
            assert!(validate_provider(ok).is_ok(), "{ok} should be valid");
        }
        assert!(rule_of(validate_provider("")).contains("empty"));
        assert!(rule_of(validate_provider("9cloud")).contains("start with"));
        assert!(rule_of(validate_provider("my cloud")).contains("only ASCII"));
        assert!(rule_of(validate_provider("my/cloud")).contains("only ASCII"));
        assert!(rule_of(validate_provider("cloud&co")).contains("only ASCII"));
        assert!(rule_of(validate_provider("type")).contains("Rust keyword"));
        assert!(rule_of(validate_provider("Self")).contains("Rust keyword"));
        assert!(rule_of(validate_provider("driver")).contains("toolkit itself"));
        assert!(rule_of(validate_provider("Provider")).contains("toolkit itself"));
        // 27 kebab characters fit in 63 with the prefix; 28 do not.
        assert!(validate_provider(&"a".repeat(27)).is_ok());
        assert!(rule_of(validate_provider(&"a".repeat(28))).contains("DNS-1123"));
    }

    #[test]
    fn image_rules() {
        for ok in [
            "ghcr.io/org/machine-controller-manager-provider-aws",
            "localhost:5000/a/b",
            "registry.example.com/team_x/img.v2",
        ] {
            assert!(
                validate_image_repository(ok, "image").is_ok(),
                "{ok} should be valid"
            );
        }
        for bad in [
            "",
            "Ghcr.io/x",
            "ghcr.io//x",
            "ghcr.io/x/",
            "ghcr.io/x:latest/y",
            "a/-b",
        ] {
            assert!(
                validate_image_repository(bad, "image").is_err(),
                "{bad} should be invalid"
            );
        }
    }

    #[test]
    fn uppercase_project_yields_valid_default_image() {
        assert!(NewNames::new("MyOrg", "my-cloud", None).is_ok());
    }
}
