//! The provider repository's root `Cargo.toml`: where the current names are read from, and
//! where the new names are recorded, so that the next rename starts from the right names
//! (A → B → C) instead of from a hard-coded template name.
//!
//! ```toml
//! [package]
//! name = "machine-controller-manager-provider-sample-provider"
//!
//! [package.metadata.mcm-provider]
//! project = "my-org"
//! provider = "SampleProvider"
//! image_repository = "ghcr.io/my-org/machine-controller-manager-provider-sample-provider"
//! ```

use std::path::Path;

use toml_edit::{DocumentMut, Item, value};

use crate::error::{Error, Result};
use crate::names::{NAME_PREFIX, ProjectNames, default_image_repository};

/// The manifest's file name.
pub const MANIFEST: &str = "Cargo.toml";

/// The metadata table holding the names.
const METADATA_TABLE: &str = "mcm-provider";

/// The current names, as the root manifest records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentNames {
    /// The names.
    pub names: ProjectNames,
    /// Whether `image_repository` is written in the manifest (otherwise the default form is
    /// assumed and left unwritten).
    pub image_repository_recorded: bool,
}

/// Reads the current names from `<root>/Cargo.toml`.
pub fn read_current_names(root: &Path) -> Result<CurrentNames> {
    let path = root.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::ManifestUnreadable {
        path: path.clone(),
        source,
    })?;
    parse_current_names(&path, &text)
}

/// Parses the current names out of a manifest's text (`path` is for messages).
pub fn parse_current_names(path: &Path, text: &str) -> Result<CurrentNames> {
    let doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| Error::ManifestInvalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
    let missing = |key| Error::MetadataMissing {
        path: path.to_owned(),
        key,
    };
    let package = doc.get("package").ok_or_else(|| missing("package.name"))?;
    let package_name = package
        .get("name")
        .and_then(Item::as_str)
        .ok_or_else(|| missing("package.name"))?;
    let metadata = package
        .get("metadata")
        .and_then(|m| m.get(METADATA_TABLE))
        .ok_or_else(|| missing("package.metadata.mcm-provider"))?;
    let field = |key: &'static str, dotted: &'static str| {
        metadata
            .get(key)
            .and_then(Item::as_str)
            .filter(|v| is_plain_name(v))
            .map(str::to_owned)
            .ok_or_else(|| missing(dotted))
    };
    let project = field("project", "package.metadata.mcm-provider.project")?;
    let provider = field("provider", "package.metadata.mcm-provider.provider")?;
    let recorded = metadata.get("image_repository").and_then(Item::as_str);
    let image_repository_recorded = recorded.is_some();
    let image_repository = match recorded {
        Some(image) if is_plain_name(image) => image.to_owned(),
        Some(_) => return Err(missing("package.metadata.mcm-provider.image_repository")),
        None => default_image_repository(
            &project,
            &heck::ToKebabCase::to_kebab_case(provider.as_str()),
        ),
    };
    let names = ProjectNames {
        project,
        provider,
        image_repository,
    };
    let expected = names.crate_name();
    if package_name != expected {
        return Err(Error::PackageNameMismatch {
            path: path.to_owned(),
            found: package_name.to_owned(),
            provider: names.provider.clone(),
            expected,
        });
    }
    debug_assert!(expected.starts_with(NAME_PREFIX));
    Ok(CurrentNames {
        names,
        image_repository_recorded,
    })
}

/// Current names must at least be non-empty printable ASCII without spaces so they can be
/// searched for; the stricter rules apply only to new names.
fn is_plain_name(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Records the new names in a manifest's text (already rewritten by the general pass),
/// keeping its formatting and comments.
pub fn record_new_names(
    path: &Path,
    text: &str,
    new: &ProjectNames,
    write_image_repository: bool,
) -> Result<String> {
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| Error::ManifestInvalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
    let missing = |key| Error::MetadataMissing {
        path: path.to_owned(),
        key,
    };
    let package = doc
        .get_mut("package")
        .ok_or_else(|| missing("package.name"))?;
    set_string(&mut package["name"], &new.crate_name());
    let metadata = package
        .get_mut("metadata")
        .and_then(|m| m.get_mut(METADATA_TABLE))
        .ok_or_else(|| missing("package.metadata.mcm-provider"))?;
    set_string(&mut metadata["project"], &new.project);
    set_string(&mut metadata["provider"], &new.provider);
    if write_image_repository {
        set_string(&mut metadata["image_repository"], &new.image_repository);
    }
    Ok(doc.to_string())
}

/// Sets a string value, keeping the comments and spacing around the old one.
fn set_string(item: &mut Item, text: &str) {
    if item.as_str() == Some(text) {
        return;
    }
    let decor = item.as_value().map(|v| v.decor().clone());
    *item = value(text);
    if let (Some(decor), Some(new_value)) = (decor, item.as_value_mut()) {
        *new_value.decor_mut() = decor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST_TEXT: &str = r#"# A provider.
[package]
name = "machine-controller-manager-provider-aws" # the crate
version = "0.1.0"

[package.metadata.mcm-provider]
project = "gardener"
provider = "AWS"
image_repository = "ghcr.io/gardener/machine-controller-manager-provider-aws"
"#;

    #[test]
    fn reads_current_names() {
        let current = parse_current_names(Path::new("Cargo.toml"), MANIFEST_TEXT).unwrap();
        assert_eq!(current.names.project, "gardener");
        assert_eq!(current.names.provider, "AWS");
        assert_eq!(
            current.names.image_repository,
            "ghcr.io/gardener/machine-controller-manager-provider-aws"
        );
        assert!(current.image_repository_recorded);
    }

    #[test]
    fn missing_metadata_says_what_to_add() {
        let text = "[package]\nname = \"machine-controller-manager-provider-aws\"\n";
        let err = parse_current_names(Path::new("Cargo.toml"), text).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("package.metadata.mcm-provider"),
            "{message}"
        );
        assert!(message.contains("project = \"my-org\""), "{message}");
        let text = "[package]\nname = \"x\"\n[package.metadata.mcm-provider]\nproject = \"o\"\n";
        let err = parse_current_names(Path::new("Cargo.toml"), text).unwrap_err();
        assert!(
            err.to_string()
                .contains("package.metadata.mcm-provider.provider"),
            "{err}"
        );
    }

    #[test]
    fn package_name_must_agree_with_provider() {
        let text = MANIFEST_TEXT.replace("provider-aws\" #", "provider-gcp\" #");
        let err = parse_current_names(Path::new("Cargo.toml"), &text).unwrap_err();
        assert!(matches!(err, Error::PackageNameMismatch { .. }), "{err}");
    }

    #[test]
    fn absent_image_repository_defaults_and_stays_absent() {
        let text = MANIFEST_TEXT.replace(
            "image_repository = \"ghcr.io/gardener/machine-controller-manager-provider-aws\"\n",
            "",
        );
        let current = parse_current_names(Path::new("Cargo.toml"), &text).unwrap();
        assert!(!current.image_repository_recorded);
        assert_eq!(
            current.names.image_repository,
            "ghcr.io/gardener/machine-controller-manager-provider-aws"
        );
    }

    #[test]
    fn records_new_names_keeping_comments() {
        let new = ProjectNames {
            project: "acme".into(),
            provider: "my-cloud".into(),
            image_repository: "ghcr.io/acme/machine-controller-manager-provider-my-cloud".into(),
        };
        let out = record_new_names(Path::new("Cargo.toml"), MANIFEST_TEXT, &new, true).unwrap();
        assert!(out.contains("# A provider."));
        assert!(
            out.contains("name = \"machine-controller-manager-provider-my-cloud\" # the crate")
        );
        let current = parse_current_names(Path::new("Cargo.toml"), &out).unwrap();
        assert_eq!(current.names, new);
    }
}
