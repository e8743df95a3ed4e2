//! Passwords in prose: a password word followed by its value with no `=`
//! or `:` between them (`login failed for user with password hunter2`,
//! `pwd S3cret!`, `passphrase was 'open sesame'`). `key=value` pairs are
//! `inline_secret`'s. A quoted value is always taken; a bare one only
//! when it looks like a password (a digit, a symbol or an inner capital),
//! so `password reset`, `password is incorrect` and `password policy`
//! stay.

use super::{Detectors, Match, PASSWORD_TEXT};

/// The word, an optional verb, then a quoted (groups 1, 2) or bare
/// (group 3) value.
pub(super) const PATTERN: &str = r#"(?i:\b(?:password|passwd|pwd|passphrase|passcode|pass phrase)\b)(?:\s+(?:was|is|of|to|set to|changed to|reset to|now))?\s+(?:"([^"\r\n]{1,64})"|'([^'\r\n]{1,64})'|([^\s"',;]{4,64}))"#;

impl Detectors {
    #[inline(never)]
    pub(super) fn passwords(
        &self,
        text: &[u8],
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        for c in self.password_text.captures_iter(text) {
            let (g, quoted) = match (c.get(1).or(c.get(2)), c.get(3)) {
                (Some(g), _) => (g, true),
                (None, Some(g)) => (g, false),
                _ => continue,
            };
            let mut v = g.as_bytes();
            // A sentence's punctuation is not part of a bare value.
            while !quoted && v.len() > 1 && matches!(v[v.len() - 1], b'.' | b')' | b':') {
                v = &v[..v.len() - 1];
            }
            if is_token(v) || v.starts_with(b"[REDACTED") || !quoted && !looks_like_password(v) {
                continue;
            }
            out.push(Match {
                start: g.start(),
                end: g.start() + v.len(),
                rule: PASSWORD_TEXT,
            });
        }
    }
}

/// A digit, a symbol, or a capital after the first letter; and not only
/// masking characters (`********`).
fn looks_like_password(v: &[u8]) -> bool {
    if v.len() < 4
        || v.iter()
            .all(|b| matches!(b, b'*' | b'x' | b'X' | b'#' | b'.'))
    {
        return false;
    }
    v.iter()
        .any(|b| b.is_ascii_digit() || b.is_ascii_punctuation() || *b >= 0x80)
        || v[1..].iter().any(u8::is_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::super::Detectors;

    fn found(t: &str) -> Vec<String> {
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut out = Vec::new();
        d.passwords(t.as_bytes(), &|_| false, &mut out);
        out.iter().map(|m| t[m.start..m.end].to_owned()).collect()
    }

    #[test]
    fn words_then_values() {
        assert_eq!(
            found("login failed for user with password hunter2"),
            ["hunter2"]
        );
        assert_eq!(found("pwd S3cret! given"), ["S3cret!"]);
        assert_eq!(found("passphrase was 'open sesame'"), ["open sesame"]);
        assert_eq!(found("Password is aB3xY9zQ."), ["aB3xY9zQ"]);
        assert!(found("password reset email sent").is_empty());
        assert!(found("password is incorrect").is_empty());
        assert!(found("the password policy requires 12 chars").is_empty());
        assert!(found("password ******** given").is_empty());
        assert!(found("password=hunter2").is_empty(), "inline_secret's");
        assert!(found("passwords expire").is_empty());
    }
}
