//! Finding names in text at identifier boundaries, and rewriting them.
//!
//! A name counts only where it stands as a word or a camel-case part: renaming `aws` must
//! not touch `laws` or `drawsomething`, but must touch `AwsDriver`, `newAwsClient` and
//! `AWS_REGION`. Searching uses the standard library's substring search (optimised even in
//! debug builds) once per spelling; a longer spelling is searched only where a shorter
//! spelling it contains was found.

use std::collections::BTreeMap;

use aho_corasick::AhoCorasick;

use crate::mapping::{Context, FileKind, Mapping};
use crate::names::FormKind;

/// One accepted occurrence of a pattern in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
    /// Index of the pattern in the matcher's list.
    pub pattern: usize,
}

/// A set of spellings searched together; at any position the longest spelling that stands
/// at identifier boundaries wins, and occurrences never overlap.
#[derive(Debug, Clone)]
pub struct Matcher {
    patterns: Vec<String>,
    /// For each pattern, the index of the longest shorter pattern it contains.
    anchors: Vec<Option<usize>>,
    /// One-pass test for "any pattern occurs at all": most files mention no name, and
    /// for them this is the only scan.
    prefilter: Option<AhoCorasick>,
}

impl Matcher {
    /// Builds a matcher; `patterns` must be sorted longest first and free of empty strings.
    pub fn new(patterns: Vec<String>) -> Self {
        let anchors: Vec<Option<usize>> = (0..patterns.len())
            .map(|index| {
                (index + 1..patterns.len())
                    .filter(|&shorter| {
                        patterns[shorter].len() < patterns[index].len()
                            && patterns[index].contains(patterns[shorter].as_str())
                    })
                    .max_by_key(|&shorter| patterns[shorter].len())
            })
            .collect();
        let roots = patterns
            .iter()
            .zip(&anchors)
            .filter(|(_, a)| a.is_none())
            .map(|(p, _)| p);
        // Building can only fail for automata far larger than a few names; the plain
        // substring test below then does the same job more slowly.
        let prefilter = AhoCorasick::builder().build(roots).ok();
        Self {
            patterns,
            anchors,
            prefilter,
        }
    }

    /// Builds a matcher from any spellings (sorted and de-duplicated here).
    pub fn from_unsorted(mut patterns: Vec<String>) -> Self {
        patterns.retain(|p| !p.is_empty());
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        Self::new(patterns)
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The spelling of pattern `index`.
    pub fn pattern(&self, index: usize) -> &str {
        &self.patterns[index]
    }

    /// Whether any pattern occurs anywhere as a plain substring (boundaries ignored): a
    /// cheap test before the real search.
    pub fn may_occur(&self, text: &str) -> bool {
        if let Some(prefilter) = &self.prefilter {
            return prefilter.is_match(text);
        }
        self.patterns
            .iter()
            .zip(&self.anchors)
            .any(|(pattern, anchor)| anchor.is_none() && text.contains(pattern.as_str()))
    }

    /// All occurrences at identifier boundaries, leftmost first; at one position the
    /// longest pattern wins; occurrences do not overlap.
    pub fn find(&self, text: &str) -> Vec<Occurrence> {
        let mut raw: Vec<Vec<usize>> = vec![Vec::new(); self.patterns.len()];
        // Shortest first, so an anchor's hits are known before the patterns containing it.
        for index in (0..self.patterns.len()).rev() {
            if self.anchors[index].is_some_and(|anchor| raw[anchor].is_empty()) {
                continue;
            }
            raw[index] = substring_positions(text, &self.patterns[index]);
        }
        let mut found: Vec<Occurrence> = raw
            .iter()
            .enumerate()
            .flat_map(|(pattern, starts)| {
                let spelling = self.patterns[pattern].as_str();
                starts.iter().filter_map(move |&start| {
                    let end = start + spelling.len();
                    at_boundaries(text, start, end, spelling).then_some(Occurrence {
                        start,
                        end,
                        pattern,
                    })
                })
            })
            .collect();
        // Same start: the lower index is the longer pattern.
        found.sort_by_key(|o| (o.start, o.pattern));
        let mut cursor = 0;
        found.retain(|o| {
            let keep = o.start >= cursor;
            if keep {
                cursor = o.end;
            }
            keep
        });
        found
    }

    /// Occurrences of this matcher's patterns that do not lie inside an occurrence of
    /// `mask`'s patterns. Used to look for old names in renamed text, where a new name may
    /// contain an old one (`aws` inside `aws-cloud`).
    pub fn find_outside(&self, text: &str, mask: &Matcher) -> Vec<Occurrence> {
        let masked = mask.find(text);
        self.find(text)
            .into_iter()
            .filter(|o| !masked.iter().any(|m| m.start <= o.start && o.end <= m.end))
            .collect()
    }
}

/// Every start position of `pattern` in `text`, overlapping ones included.
fn substring_positions(text: &str, pattern: &str) -> Vec<usize> {
    let step = pattern.chars().next().map_or(1, char::len_utf8);
    let mut positions = Vec::new();
    let mut from = 0;
    while let Some(offset) = text.get(from..).and_then(|rest| rest.find(pattern)) {
        positions.push(from + offset);
        from += offset + step;
    }
    positions
}

/// Whether `text[start..end]` (which spells `pattern`) stands at identifier boundaries on
/// both sides.
pub fn at_boundaries(text: &str, start: usize, end: usize, pattern: &str) -> bool {
    let prev = text[..start].chars().next_back();
    let next_two = &mut text[end..].chars();
    let next = next_two.next();
    let after_next = next_two.next();
    let (Some(first), Some(last)) = (pattern.chars().next(), pattern.chars().next_back()) else {
        return false;
    };
    let second = pattern.chars().nth(1);
    starts_at_boundary(prev, first, second) && ends_at_boundary(last, next, after_next)
}

/// Start of text, a non-alphanumeric neighbour, or a camel hump (`newAws`, `HTTPAws`).
fn starts_at_boundary(prev: Option<char>, first: char, second: Option<char>) -> bool {
    let Some(prev) = prev else { return true };
    if !prev.is_alphanumeric() {
        return true;
    }
    if first.is_uppercase() {
        if prev.is_lowercase() || prev.is_numeric() {
            return true;
        }
        // An acronym followed by a camel word: `XMLAwsThing`.
        if prev.is_uppercase() && second.is_some_and(char::is_lowercase) {
            return true;
        }
    }
    false
}

/// End of text, a non-alphanumeric neighbour, or a camel hump (`AwsDriver`, `AWSClient`).
fn ends_at_boundary(last: char, next: Option<char>, after_next: Option<char>) -> bool {
    let Some(next) = next else { return true };
    if !next.is_alphanumeric() {
        return true;
    }
    if next.is_uppercase() {
        if last.is_lowercase() || last.is_numeric() {
            return true;
        }
        if last.is_uppercase() && after_next.is_some_and(char::is_lowercase) {
            return true;
        }
    }
    false
}

/// Occurrence counts per form.
pub type FormCounts = BTreeMap<FormKind, usize>;

/// Rewrites every occurrence of the mapping's old spellings in `text`; returns the new text
/// and the number of replacements per form, or `None` when nothing changes.
pub fn rewrite(mapping: &Mapping, text: &str, file: FileKind) -> Option<(String, FormCounts)> {
    if !mapping.matcher().may_occur(text) {
        return None;
    }
    let occurrences = mapping.matcher().find(text);
    if occurrences.is_empty() {
        return None;
    }
    let mut counts = FormCounts::new();
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    for occurrence in &occurrences {
        let context = Context {
            prev: text[..occurrence.start].chars().next_back(),
            next: text[occurrence.end..].chars().next(),
            file,
        };
        let pattern = &mapping.patterns[occurrence.pattern];
        let (kind, replacement) = mapping.resolve(pattern, context);
        *counts.entry(kind).or_default() += 1;
        out.push_str(&text[copied..occurrence.start]);
        out.push_str(replacement);
        copied = occurrence.end;
    }
    out.push_str(&text[copied..]);
    (out != text).then_some((out, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{ProjectNames, default_image_repository};

    fn names(project: &str, provider: &str) -> ProjectNames {
        use heck::ToKebabCase;
        ProjectNames {
            project: project.into(),
            provider: provider.into(),
            image_repository: default_image_repository(project, &provider.to_kebab_case()),
        }
    }

    fn spans<'t>(matcher: &Matcher, text: &'t str) -> Vec<&'t str> {
        matcher
            .find(text)
            .iter()
            .map(|o| &text[o.start..o.end])
            .collect()
    }

    #[test]
    fn matches_only_at_identifier_boundaries() {
        let m = Matcher::from_unsorted(vec!["aws".into(), "Aws".into(), "AWS".into()]);
        let cases: &[(&str, &[&str])] = &[
            ("laws", &[]),
            ("drawsomething", &[]),
            ("awsome", &[]),
            ("aws", &["aws"]),
            ("pkg/aws/driver.go", &["aws"]),
            ("AwsDriver", &["Aws"]),
            ("newAwsClient", &["Aws"]),
            ("awsClient", &["aws"]),
            ("AWS_REGION=1", &["AWS"]),
            ("MY_AWS_TOKEN", &["AWS"]),
            ("AWSClient", &["AWS"]),
            ("AWSCLIENT", &[]),
            ("XMLAwsThing", &["Aws"]),
            ("ec2Aws", &["Aws"]),
            ("aws2", &[]),
            ("Laws", &[]),
            ("a-aws-b aws_c", &["aws", "aws"]),
            ("«aws»", &["aws"]),
        ];
        for (text, expected) in cases {
            assert_eq!(spans(&m, text), *expected, "in {text:?}");
        }
    }

    #[test]
    fn longest_spelling_wins_and_overlapping_candidates_are_found() {
        let m = Matcher::from_unsorted(vec!["a-a".into(), "a-a-a".into()]);
        assert_eq!(spans(&m, "x a-a-a y"), ["a-a-a"]);
        // The first `a-a` is glued to `x`; the overlapping one after it stands free.
        let m = Matcher::from_unsorted(vec!["a-a".into()]);
        assert_eq!(spans(&m, "xa-a-a"), ["a-a"]);
    }

    #[test]
    fn rewrite_replaces_every_form_and_counts_them() {
        let mapping = crate::mapping::Mapping::new(
            &names("old-org", "SampleProvider"),
            &names("new-org", "my-cloud"),
        );
        let text = "module github.com/old-org/machine-controller-manager-provider-sample-provider\n\
                    image: ghcr.io/old-org/machine-controller-manager-provider-sample-provider:v1\n\
                    use machine_controller_manager_provider_sample_provider::SampleProviderDriver;\n\
                    let sampleProvider = SAMPLE_PROVIDER_TOKEN; // sampleprovider SAMPLEPROVIDER\n\
                    dir sample_provider, laws, resampleprovider\n";
        let (out, counts) = rewrite(&mapping, text, FileKind::Other).unwrap();
        assert_eq!(
            out,
            "module github.com/new-org/machine-controller-manager-provider-my-cloud\n\
             image: ghcr.io/new-org/machine-controller-manager-provider-my-cloud:v1\n\
             use machine_controller_manager_provider_my_cloud::MyCloudDriver;\n\
             let myCloud = MY_CLOUD_TOKEN; // mycloud MYCLOUD\n\
             dir my_cloud, laws, resampleprovider\n"
        );
        assert_eq!(counts[&FormKind::GoModule], 1);
        assert_eq!(counts[&FormKind::ImageRepository], 1);
        assert_eq!(counts[&FormKind::CrateSnake], 1);
        assert_eq!(counts[&FormKind::UpperCamel], 1);
        assert_eq!(counts[&FormKind::Snake], 1);
        assert!(rewrite(&mapping, "nothing here", FileKind::Other).is_none());
    }

    #[test]
    fn find_outside_ignores_old_names_inside_new_ones() {
        let old = Matcher::from_unsorted(vec!["aws".into()]);
        let new = Matcher::from_unsorted(vec!["aws-cloud".into()]);
        assert!(old.find_outside("the aws-cloud driver", &new).is_empty());
        assert_eq!(old.find_outside("aws-cloud and aws", &new).len(), 1);
    }
}
