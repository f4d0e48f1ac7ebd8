//! The status error: a machine [`Code`] plus a message, and its text form.
//!
//! The text form `machine codes error: code = [<CodeName>] message = [<message>]` is a
//! compatibility contract: the machine controller writes it into
//! `status.lastOperation.description`, and Go's `status.FromError` *parses the text*
//! of any error to get the code back. [`decode_error_text`] reproduces that parser
//! with all its quirks, so that errors which cross a text boundary (a provider that
//! wraps a status error into another error, logs read back by tools) decode exactly
//! as MCM would decode them.

use std::error::Error as StdError;
use std::fmt;

use crate::codes::Code;

/// A machine status error: what a driver returns when a call fails.
///
/// Build one with [`Status::new`] or the per-code shorthands
/// (`Status::not_found("no VM for machine m1")`). The message must never contain
/// secret material: it ends up in the Machine's status, in logs and in metrics.
#[derive(Debug)]
pub struct Status {
    code: Code,
    message: String,
    cause: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Status {
    /// A status error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            cause: None,
        }
    }

    /// A status error that also keeps the underlying error (MCM's `WrapError`).
    /// The cause is for logs and `source()` chains; it is not part of the text form.
    pub fn wrap(
        code: Code,
        message: impl Into<String>,
        cause: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Status {
        Status {
            code,
            message: message.into(),
            cause: Some(cause.into()),
        }
    }

    /// The machine code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The wrapped cause, if any.
    pub fn cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.cause.as_deref()
    }

    /// Go's `Status.Error()` text: `machine codes error: code = [<name>] message = [<msg>]`.
    pub fn text(&self) -> String {
        self.to_string()
    }
}

macro_rules! shorthand {
    ($($fn_name:ident => $code:ident),* $(,)?) => {
        impl Status {
            $(
                #[doc = concat!("A status error with code [`Code::", stringify!($code), "`].")]
                pub fn $fn_name(message: impl Into<String>) -> Status {
                    Status::new(Code::$code, message)
                }
            )*
        }
    };
}

shorthand! {
    canceled => Canceled,
    unknown => Unknown,
    invalid_argument => InvalidArgument,
    deadline_exceeded => DeadlineExceeded,
    not_found => NotFound,
    already_exists => AlreadyExists,
    permission_denied => PermissionDenied,
    resource_exhausted => ResourceExhausted,
    failed_precondition => FailedPrecondition,
    aborted => Aborted,
    out_of_range => OutOfRange,
    unimplemented => Unimplemented,
    internal => Internal,
    unavailable => Unavailable,
    data_loss => DataLoss,
    unauthenticated => Unauthenticated,
    uninitialized => Uninitialized,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "machine codes error: code = [{}] message = [{}]",
            self.code, self.message
        )
    }
}

impl StdError for Status {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.cause {
            Some(cause) => Some(cause.as_ref()),
            None => None,
        }
    }
}

/// The result of decoding an error text the way Go's `status.FromError` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The code; [`Code::Unknown`] when undecodable or when the name is not known.
    pub code: Code,
    /// The message group, or the whole text when undecodable.
    pub message: String,
    /// Whether the text had exactly two top-level bracket groups (Go's `ok`).
    pub decodable: bool,
}

/// Decodes an error text with Go's rules: the text must contain exactly two
/// top-level, bracket-balanced `[...]` groups; the first is the code name (unknown
/// names give [`Code::Unknown`]), the second the message. Inner balanced brackets
/// stay part of a group, a `]` without an open `[` is ignored, and an unclosed group
/// does not count. Any other number of groups is "undecodable": code `Unknown`, the
/// message is the whole text, `decodable == false`.
///
/// Never panics, whatever the input.
pub fn decode_error_text(text: &str) -> Decoded {
    let mut groups: Vec<&str> = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (index, ch) in text.char_indices() {
        match ch {
            '[' => {
                if depth == 0 {
                    start = index + 1;
                }
                depth += 1;
            }
            ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    groups.push(&text[start..index]);
                }
            }
            _ => {}
        }
    }
    match groups.as_slice() {
        [code, message] => Decoded {
            code: Code::from_name(code),
            message: (*message).to_owned(),
            decodable: true,
        },
        _ => Decoded {
            code: Code::Unknown,
            message: text.to_owned(),
            decodable: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form_is_byte_exact() {
        let status = Status::resource_exhausted("quota exceeded");
        assert_eq!(
            status.to_string(),
            "machine codes error: code = [ResourceExhausted] message = [quota exceeded]"
        );
        assert_eq!(
            Status::new(Code::Ok, "").text(),
            "machine codes error: code = [OK] message = []"
        );
    }

    #[test]
    fn ok_status_is_still_an_error_value() {
        // Go's status.Error(codes.OK, …) is a non-nil error; ours is a value of the
        // error type, and decoding its text gives back OK as a decodable code.
        let status = Status::new(Code::Ok, "fine");
        let decoded = decode_error_text(&status.text());
        assert_eq!(decoded.code, Code::Ok);
        assert!(decoded.decodable);
    }

    #[test]
    fn wrapped_status_text_still_decodes_without_brackets_in_the_prefix() {
        let wrapped = format!("creating VM: {}", Status::unavailable("try later"));
        let decoded = decode_error_text(&wrapped);
        assert_eq!(decoded.code, Code::Unavailable);
        assert_eq!(decoded.message, "try later");
        assert!(decoded.decodable);
    }

    #[test]
    fn brackets_in_a_prefix_make_the_text_undecodable() {
        let wrapped = format!("[vm-1] {}", Status::unavailable("try later"));
        let decoded = decode_error_text(&wrapped);
        assert!(!decoded.decodable);
        assert_eq!(decoded.code, Code::Unknown);
        assert_eq!(decoded.message, wrapped);
    }

    #[test]
    fn inner_balanced_brackets_stay_in_the_message() {
        let status = Status::invalid_argument("field [spec.zone] is [required]");
        let decoded = decode_error_text(&status.text());
        assert!(decoded.decodable);
        assert_eq!(decoded.code, Code::InvalidArgument);
        assert_eq!(decoded.message, "field [spec.zone] is [required]");
    }

    #[test]
    fn unbalanced_open_bracket_in_a_message_is_undecodable() {
        let status = Status::internal("index [3 out of range");
        let decoded = decode_error_text(&status.text());
        assert!(!decoded.decodable);
        assert_eq!(decoded.code, Code::Unknown);
    }

    #[test]
    fn stray_closing_bracket_outside_a_group_is_ignored() {
        let decoded = decode_error_text("oops] code = [NotFound] message = [gone]");
        assert!(decoded.decodable);
        assert_eq!(decoded.code, Code::NotFound);
        assert_eq!(decoded.message, "gone");
    }

    #[test]
    fn arbitrary_text_with_two_groups_decodes_as_unknown_code() {
        let decoded = decode_error_text("foo [a] bar [b]");
        assert!(decoded.decodable);
        assert_eq!(decoded.code, Code::Unknown);
        assert_eq!(decoded.message, "b");
    }

    #[test]
    fn three_groups_or_none_are_undecodable() {
        assert!(!decode_error_text("[a] [b] [c]").decodable);
        assert!(!decode_error_text("plain error").decodable);
        assert!(!decode_error_text("").decodable);
    }

    #[test]
    fn code_name_with_other_case_or_spaces_is_unknown() {
        assert_eq!(
            decode_error_text("code = [notFound] message = [x]").code,
            Code::Unknown
        );
        assert_eq!(
            decode_error_text("code = [ NotFound] message = [x]").code,
            Code::Unknown
        );
    }

    #[test]
    fn cause_is_kept_but_not_printed() {
        let cause = std::io::Error::other("connection reset");
        let status = Status::wrap(Code::Unavailable, "cloud API down", cause);
        assert!(status.cause().is_some());
        assert!(StdError::source(&status).is_some());
        assert!(!status.to_string().contains("connection reset"));
    }

    fn message_strategy() -> impl Strategy<Value = String> {
        // Any text whose brackets are balanced (as MCM's own messages must be to
        // survive the text form), including unicode and nested brackets.
        proptest::collection::vec(
            prop_oneof![
                "[^\\[\\]]{0,8}".prop_map(|s| s),
                "[^\\[\\]]{0,4}".prop_map(|s| format!("[{s}]")),
                "[^\\[\\]]{0,3}".prop_map(|s| format!("[[{s}] x]")),
                Just("ü–✓ 日本".to_owned()),
            ],
            0..5,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips_for_every_code(index in 0usize..18, message in message_strategy()) {
            let code = Code::ALL[index];
            let status = Status::new(code, message.clone());
            let decoded = decode_error_text(&status.text());
            prop_assert!(decoded.decodable);
            prop_assert_eq!(decoded.code, code);
            prop_assert_eq!(decoded.message, message);
        }

        #[test]
        fn decoder_never_panics(text in any::<String>()) {
            let decoded = decode_error_text(&text);
            if !decoded.decodable {
                prop_assert_eq!(decoded.message, text);
                prop_assert_eq!(decoded.code, Code::Unknown);
            }
        }

        #[test]
        fn decoder_never_panics_on_bracket_soup(text in "[\\[\\]a-z ]{0,40}") {
            let _ = decode_error_text(&text);
        }
    }
}
