//! `symptom.exception.message_redacted` and `message_hash`: the exception
//! message with what varies between occurrences of one failure replaced by
//! placeholders, and the hash of the message as received.
//!
//! Replaced, in this order of precedence (the first that matches a span of
//! text wins):
//!
//! | text | becomes |
//! | --- | --- |
//! | redaction tokens `tok_v<N>_<hex>` | `<token>` |
//! | hashes `sha256:<64 hex>` | `<hash>` |
//! | UUIDs (`8-4-4-4-12` hex digits) | `<uuid>` |
//! | `0x` hexadecimal literals | `<hex>` |
//! | words of 8 or more hex digits with at least one digit and one letter (ids, digests) | `<hex>` |
//! | numbers standing alone (`42`, `3.5`, the `8` of `utf-8`; not the `2` of `v2`), a unit of up to three letters kept (`3.2s`) | `<num>`, `<num>s` |
//!
//! The redaction processor earlier in the pipeline has already replaced
//! personal data with tokens; this makes equal failures read the same.

use std::sync::OnceLock;

use regex::{Captures, Regex};
use sha2::{Digest, Sha256};

/// The schema's limit on `message_redacted` (characters).
pub(crate) const MAX_MESSAGE_CHARS: usize = 4096;

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // One alternation, so each span of text is replaced once, by the
        // first alternative that matches at its start.
        let re = concat!(
            r"(?P<token>tok_v[0-9]+_[0-9A-Za-z]+)",
            r"|(?P<hash>sha256:[0-9a-fA-F]{64})",
            r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
            r"|(?P<hexlit>\b0[xX][0-9a-fA-F]+\b)",
            r"|(?P<hexword>\b[0-9a-fA-F]{8,}\b)",
            r"|(?P<num>\b[0-9]+(?:\.[0-9]+)?(?P<unit>[A-Za-z]{0,3})\b)",
        );
        match Regex::new(re) {
            Ok(re) => re,
            // A constant pattern: a failure here is a bug caught by the tests.
            Err(e) => panic!("message pattern: {e}"),
        }
    })
}

/// The message with tokens, hashes, UUIDs, hex and numbers normalized, cut
/// to the schema's length.
pub(crate) fn redact(message: &str) -> String {
    let out = pattern().replace_all(message, |c: &Captures<'_>| {
        let placeholder = if c.name("token").is_some() {
            "<token>"
        } else if c.name("hash").is_some() {
            "<hash>"
        } else if c.name("uuid").is_some() {
            "<uuid>"
        } else if c.name("hexlit").is_some() {
            "<hex>"
        } else if let Some(m) = c.name("hexword") {
            let w = m.as_str();
            let digits = w.bytes().any(|b| b.is_ascii_digit());
            let letters = w.bytes().any(|b| b.is_ascii_alphabetic());
            match (digits, letters) {
                (true, true) => "<hex>",
                (true, false) => "<num>",
                // A word such as `deadbeef` or `accede...`: prose, kept.
                _ => return w.to_owned(),
            }
        } else {
            // A unit stays: `3.2s` and `10s` both read `<num>s`.
            let unit = c.name("unit").map_or("", |u| u.as_str());
            return format!("<num>{unit}");
        };
        placeholder.to_owned()
    });
    cut_chars(&out, MAX_MESSAGE_CHARS).to_owned()
}

/// `sha256:<hex>` of the message as received.
pub(crate) fn hash(message: &str) -> String {
    let digest = Sha256::digest(message.as_bytes());
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The first `max` characters of `s`.
pub(crate) fn cut_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_what_varies() {
        for (input, want) in [
            ("Order 42 not found", "Order <num> not found"),
            ("amount -3.50 below 0", "amount -<num> below <num>"),
            ("took 3.2s of 15ms", "took <num>s of <num>ms"),
            (
                "user 123e4567-e89b-12d3-a456-426614174000 missing",
                "user <uuid> missing",
            ),
            (
                "bad pointer 0x7ffdc0de at 0XAB",
                "bad pointer <hex> at <hex>",
            ),
            (
                "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
                "commit <hex>",
            ),
            (
                "card tok_v1_3f2a9c0b11d4e5f6 declined",
                "card <token> declined",
            ),
            (
                "mail tok_v12_abcDEF0123 and tok_v1_00",
                "mail <token> and <token>",
            ),
            (
                "digest sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "digest <hash>",
            ),
            (
                "'utf-8' codec can't decode byte 0xff in position 3",
                "'utf-<num>' codec can't decode byte <hex> in position <num>",
            ),
            // Numbers inside words are part of a name, not a value.
            ("api v2 and order42 and sha1", "api v2 and order42 and sha1"),
            ("deadbeefcafe is prose", "deadbeefcafe is prose"),
            ("id 12345678901", "id <num>"),
            ("KeyError: 'country'", "KeyError: 'country'"),
            ("", ""),
        ] {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn equal_failures_read_the_same() {
        assert_eq!(
            redact("order 17 of user tok_v1_aa11 failed after 3.2s"),
            redact("order 99 of user tok_v1_bb22 failed after 10.0s"),
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let r = redact(&long);
        assert_eq!(r.chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn hash_is_sha256_hex() {
        // sha256("") is the well-known e3b0c442... digest.
        assert_eq!(
            hash(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(hash("a"), hash("b"));
    }
}
