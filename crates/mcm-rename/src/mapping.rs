//! The mapping from each distinct old spelling to its replacement.
//!
//! Several forms of one name can spell the same text: for a one-word provider such as
//! `aws`, kebab, snake, lowerCamel and flat case are all `aws`. When the new name has more
//! than one word those forms differ (`my-cloud`, `my_cloud`, `myCloud`, `mycloud`), so each
//! occurrence is given a form from its context — the neighbouring characters and the kind
//! of file — by the fixed rules in [`Mapping::resolve`]. Without that, renaming to a
//! one-word name and back could not restore the tree.

use crate::names::{FormKind, ProjectNames};
use crate::scan::Matcher;

/// The kind of file (or of directory, by the files it holds) an occurrence is in. Go and
/// Rust spell the provider differently when it stands alone: Go packages are flat case
/// (`package sampleprovider`), Rust modules snake case (`mod sample_provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `.go` files, and directories holding them.
    Go,
    /// `.rs` files, and directories holding them.
    Rust,
    /// Everything else (Markdown, YAML, TOML, Makefiles, ...).
    Other,
}

impl FileKind {
    /// The kind implied by a file name's extension.
    pub fn of_file_name(name: &str) -> Self {
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("go") => FileKind::Go,
            Some("rs") => FileKind::Rust,
            _ => FileKind::Other,
        }
    }
}

/// One distinct old spelling and the forms that produce it.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The old text to find.
    pub old: String,
    /// The forms that spell `old`, each with its new text, in canonical order.
    pub candidates: Vec<(FormKind, String)>,
}

impl Pattern {
    /// Whether every candidate form has the same new text, so context does not matter.
    fn is_unambiguous(&self) -> bool {
        self.candidates
            .windows(2)
            .all(|pair| pair[0].1 == pair[1].1)
    }
}

/// What surrounds one occurrence.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The character before the occurrence, if any.
    pub prev: Option<char>,
    /// The character after the occurrence, if any.
    pub next: Option<char>,
    /// The kind of file (or directory) the occurrence is in.
    pub file: FileKind,
}

/// Every old spelling with its replacement(s), sorted by length, longest first.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Distinct old spellings, longest first.
    pub patterns: Vec<Pattern>,
    matcher: Matcher,
}

impl Mapping {
    /// Builds the mapping from the current to the new names. A literal spelling that
    /// equals another form of the same name is dropped (the structural form is kept); a form
    /// whose old text is empty is ignored.
    pub fn new(old: &ProjectNames, new: &ProjectNames) -> Self {
        let old_forms = old.forms();
        let new_forms = new.forms();
        let mut patterns: Vec<Pattern> = Vec::new();
        for ((kind, old_text), (_, new_text)) in old_forms.iter().zip(&new_forms) {
            if old_text.is_empty() {
                continue;
            }
            if *kind == FormKind::Literal
                && old_forms
                    .iter()
                    .any(|(k, t)| *k != FormKind::Literal && t == old_text)
            {
                continue;
            }
            match patterns.iter_mut().find(|p| &p.old == old_text) {
                Some(pattern) => pattern.candidates.push((*kind, new_text.clone())),
                None => patterns.push(Pattern {
                    old: old_text.clone(),
                    candidates: vec![(*kind, new_text.clone())],
                }),
            }
        }
        patterns.sort_by(|a, b| {
            b.old
                .len()
                .cmp(&a.old.len())
                .then_with(|| a.old.cmp(&b.old))
        });
        let matcher = Matcher::new(patterns.iter().map(|p| p.old.clone()).collect());
        Self { patterns, matcher }
    }

    /// Finds the old spellings in a text; occurrence `pattern` indices point into
    /// [`Mapping::patterns`].
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Every distinct old spelling.
    pub fn old_spellings(&self) -> Vec<String> {
        self.patterns.iter().map(|p| p.old.clone()).collect()
    }

    /// The old spellings that several forms share while the new name spells those forms
    /// differently; these are resolved from context.
    pub fn ambiguous(&self) -> impl Iterator<Item = &Pattern> {
        self.patterns.iter().filter(|p| !p.is_unambiguous())
    }

    /// Chooses the form (and so the new text) for one occurrence of a pattern:
    ///
    /// 1. next to `_`: snake / SHOUTY_SNAKE;
    /// 2. next to `-`: kebab;
    /// 3. followed by an uppercase letter: lowerCamel / UpperCamel (a camel-case hump);
    /// 4. standing alone in Go: flat / FLAT / UpperCamel;
    /// 5. standing alone in Rust: snake / SHOUTY_SNAKE / UpperCamel;
    /// 6. standing alone elsewhere: kebab / SHOUTY_SNAKE;
    /// 7. otherwise the first candidate in canonical order.
    pub fn resolve<'a>(&self, pattern: &'a Pattern, context: Context) -> (FormKind, &'a str) {
        let first = &pattern.candidates[0];
        if pattern.is_unambiguous() {
            return (first.0, first.1.as_str());
        }
        let touches = |c: char| context.prev == Some(c) || context.next == Some(c);
        let preferences: &[FormKind] = if touches('_') {
            &[FormKind::CrateSnake, FormKind::Snake, FormKind::ShoutySnake]
        } else if touches('-') {
            &[FormKind::CrateKebab, FormKind::Kebab]
        } else if context.next.is_some_and(char::is_uppercase) {
            &[FormKind::LowerCamel, FormKind::UpperCamel]
        } else {
            match context.file {
                FileKind::Go => &[FormKind::Flat, FormKind::FlatUpper, FormKind::UpperCamel],
                FileKind::Rust => &[FormKind::Snake, FormKind::ShoutySnake, FormKind::UpperCamel],
                FileKind::Other => &[FormKind::Kebab, FormKind::ShoutySnake],
            }
        };
        preferences
            .iter()
            .find_map(|wanted| pattern.candidates.iter().find(|(kind, _)| kind == wanted))
            .map_or((first.0, first.1.as_str()), |(kind, text)| {
                (*kind, text.as_str())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::default_image_repository;

    fn names(project: &str, provider: &str) -> ProjectNames {
        use heck::ToKebabCase;
        ProjectNames {
            project: project.into(),
            provider: provider.into(),
            image_repository: default_image_repository(project, &provider.to_kebab_case()),
        }
    }

    fn resolve(
        mapping: &Mapping,
        old: &str,
        prev: Option<char>,
        next: Option<char>,
        file: FileKind,
    ) -> String {
        let pattern = mapping.patterns.iter().find(|p| p.old == old).unwrap();
        mapping
            .resolve(pattern, Context { prev, next, file })
            .1
            .to_owned()
    }

    #[test]
    fn one_word_old_name_is_resolved_by_context() {
        let mapping = Mapping::new(&names("org", "aws"), &names("org", "my-cloud"));
        assert_eq!(
            resolve(&mapping, "aws", Some('_'), None, FileKind::Other),
            "my_cloud"
        );
        assert_eq!(
            resolve(&mapping, "aws", None, Some('-'), FileKind::Rust),
            "my-cloud"
        );
        assert_eq!(
            resolve(&mapping, "aws", Some(' '), Some('C'), FileKind::Go),
            "myCloud"
        );
        assert_eq!(
            resolve(&mapping, "aws", Some(' '), Some('\n'), FileKind::Go),
            "mycloud"
        );
        assert_eq!(
            resolve(&mapping, "aws", Some(' '), Some(';'), FileKind::Rust),
            "my_cloud"
        );
        assert_eq!(
            resolve(&mapping, "aws", Some(' '), None, FileKind::Other),
            "my-cloud"
        );
        assert_eq!(
            resolve(&mapping, "AWS", Some('_'), None, FileKind::Other),
            "MY_CLOUD"
        );
        assert_eq!(
            resolve(&mapping, "AWS", Some(' '), None, FileKind::Go),
            "MYCLOUD"
        );
        assert_eq!(
            resolve(&mapping, "Aws", None, None, FileKind::Other),
            "MyCloud"
        );
    }

    #[test]
    fn literal_equal_to_a_structural_form_is_deduplicated() {
        let mapping = Mapping::new(&names("org", "SampleProvider"), &names("org", "my-cloud"));
        let upper = mapping
            .patterns
            .iter()
            .find(|p| p.old == "SampleProvider")
            .unwrap();
        assert_eq!(
            upper.candidates,
            vec![(FormKind::UpperCamel, "MyCloud".to_owned())]
        );
        assert_eq!(mapping.ambiguous().count(), 0);
    }

    #[test]
    fn distinct_literal_is_its_own_form() {
        let mapping = Mapping::new(&names("org", "My_Cloud"), &names("org", "AWS"));
        let literal = mapping
            .patterns
            .iter()
            .find(|p| p.old == "My_Cloud")
            .unwrap();
        assert_eq!(
            literal.candidates,
            vec![(FormKind::Literal, "AWS".to_owned())]
        );
    }

    #[test]
    fn patterns_are_longest_first() {
        let mapping = Mapping::new(&names("org", "aws"), &names("org", "gcp"));
        let lengths: Vec<usize> = mapping.patterns.iter().map(|p| p.old.len()).collect();
        assert!(lengths.windows(2).all(|w| w[0] >= w[1]), "{lengths:?}");
    }
}
