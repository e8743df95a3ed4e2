//! `key=value` and `key: value` pairs inside text whose key is sensitive
//! (`password=hunter2`, `"api_key": "..."`, `Authorization: Bearer ...`,
//! `Cookie: a=1; b=2`): the value is redacted, the key kept.

use super::{Detectors, INLINE, Match};

/// A key and its `=` or `:`, optionally quoted: the value starts after it.
pub(super) const KEY_PATTERN: &str = r#"\b[A-Za-z][A-Za-z0-9_.\-]{0,63}["']?[ \t]*[:=][ \t]*"#;

impl Detectors {
    /// Every value under a key `is_sensitive_key` accepts that is not
    /// already a token (`is_token`).
    #[inline(never)]
    pub(super) fn inline(
        &self,
        text: &[u8],
        is_sensitive_key: &mut dyn FnMut(&str) -> bool,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        for m in self.inline_kv.find_iter(text) {
            let key_end = m
                .as_bytes()
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
                .unwrap_or(m.len());
            let key = std::str::from_utf8(&m.as_bytes()[..key_end]).unwrap_or("");
            // `http://` and `https://` look like `key:`.
            if text.get(m.end()) == Some(&b'/') || !is_sensitive_key(key) {
                continue;
            }
            let (start, end) = value_span(text, m.end(), key);
            if end > start && !is_token(&text[start..end]) {
                out.push(Match {
                    start,
                    end,
                    rule: INLINE,
                });
            }
        }
    }
}

/// The value after `key`'s separator, which ends at `start`: a quoted
/// string, a header's words, or up to a delimiter (512 bytes at most).
/// Inlined into `inline`, where it was written.
#[inline(always)]
fn value_span(text: &[u8], mut start: usize, key: &str) -> (usize, usize) {
    // Header-like keys hold more than one word: `Authorization:
    // Bearer x`, `Cookie: a=1; b=2`.
    let lower = key.to_ascii_lowercase();
    let end = match text.get(start) {
        _ if lower.contains("authorization") => auth_value_end(text, start),
        _ if lower.contains("cookie") => cookie_value_end(text, start),
        Some(&q @ (b'"' | b'\'')) => {
            start += 1;
            let len = text[start..]
                .iter()
                .take(512)
                .position(|b| *b == q)
                .unwrap_or(0);
            start + len
        }
        _ => {
            let len = text[start..]
                .iter()
                .take(512)
                .position(|b| {
                    b.is_ascii_whitespace()
                        || matches!(
                            b,
                            b',' | b';' | b'&' | b'"' | b'\'' | b'<' | b'>' | b')' | b']' | b'}'
                        )
                })
                .unwrap_or(text.len() - start);
            start + len
        }
    };
    (start, end)
}

/// Does a key end at or after `at` and a `=` or `:` follow (`_key = `,
/// `Token": `)?
pub(super) fn kv_follows(text: &[u8], at: usize) -> bool {
    let rest = &text[at.min(text.len())..];
    let mut i = rest
        .iter()
        .take(48)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    if matches!(rest.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i += rest[i.min(rest.len())..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    matches!(rest.get(i), Some(b'=' | b':'))
}

fn word_end(text: &[u8], from: usize) -> usize {
    from + text[from..]
        .iter()
        .take(1024)
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'&' | b'<' | b'>'))
        .unwrap_or(text.len() - from)
}

/// `Authorization: <scheme> <credentials>`: the scheme word and the
/// credentials after it.
fn auth_value_end(text: &[u8], start: usize) -> usize {
    let first = word_end(text, start);
    let scheme = &text[start..first];
    if !scheme.is_empty() && scheme.len() <= 12 && scheme.iter().all(u8::is_ascii_alphabetic) {
        let next = first
            + text[first..]
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
        if next > first && next < text.len() {
            return word_end(text, next);
        }
    }
    first
}

/// `Cookie: a=1; b=2; Path=/; HttpOnly`: every `;`-separated pair.
fn cookie_value_end(text: &[u8], start: usize) -> usize {
    let mut end = word_end(text, start);
    while end > start && text[end - 1] == b';' {
        let next = end + text[end..].iter().take_while(|b| **b == b' ').count();
        if next >= text.len() || !text[next].is_ascii_alphanumeric() {
            break;
        }
        end = word_end(text, next);
    }
    end.min(text.len())
}
