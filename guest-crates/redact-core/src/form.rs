//! Percent- and form-encoded text (URLs, query strings, form bodies): a
//! decoded view of a string with the offsets back into it, so that the
//! detectors see `+49 30 90182736` where the text holds `%2B49+30+90182736`,
//! and the encoding of a replacement for the span it replaces, so that the
//! query stays well-formed and a pseudonym decodes to the same shape.
//!
//! The view is built per run of non-whitespace bytes (a URL or a query
//! inside a log line is one run): `%XX` escapes of ASCII bytes are decoded
//! everywhere in the run; `+` is a space only where
//! `application/x-www-form-urlencoded` says so: after the run's first `?`
//! (up to a `#`), or in the whole run when a `=` comes before any `?` (a
//! bare query such as `url.query`, or a form body). In a path `+` is a
//! plus.
//! Escapes of bytes >= 0x80 stay encoded (the detectors are ASCII), and
//! decoding happens once (`%252B` is `%2B`, not `+`).

use crate::swar::{HIGH, find_class, lanes_eq};

/// A decoded copy of a text and where each of its bytes came from.
pub struct View {
    /// The decoded text (valid UTF-8: only ASCII escapes are replaced, by
    /// ASCII bytes).
    pub text: String,
    /// For each byte of `text`, its offset in the original; one more entry
    /// for the end.
    from: Vec<usize>,
    /// The spans of the original where `+` means a space.
    forms: Vec<(usize, usize)>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The ASCII byte of the escape at `text[i..]` (`%` and two hex digits).
fn escape_at(text: &[u8], i: usize) -> Option<u8> {
    if text.get(i) != Some(&b'%') {
        return None;
    }
    let v = hex(*text.get(i + 1)?)? << 4 | hex(*text.get(i + 2)?)?;
    (v < 0x80).then_some(v)
}

/// Where `+` is a space inside the run `run` (offsets into it), up to its
/// first `#`: after the first `?` of a URL, or the whole run when a `=`
/// comes before any `?` (a bare query such as `url.query`, whose values
/// may hold a `?`, or a form body).
fn form_region(run: &[u8]) -> (usize, usize) {
    let end = memchr::memchr(b'#', run).unwrap_or(run.len());
    let run = &run[..end];
    let q = memchr::memchr(b'?', run);
    match memchr::memchr(b'=', run) {
        Some(eq) if q.is_none_or(|q| eq < q) => (0, end),
        _ => q.map_or((0, 0), |q| (q + 1, end)),
    }
}

/// Does `text` hold a `%` or a `+`? Eight bytes a step: this runs on every
/// scanned string, and `memchr2` there cost the redact guest 7-10% of the
/// pipeline benchmark (wasm32 has no vector fallback of it).
fn has_escape_byte(text: &[u8]) -> bool {
    let pct_plus = |w: u64| {
        let t = w & !HIGH;
        (lanes_eq(t, b'%') | lanes_eq(t, b'+')) & !w & HIGH
    };
    find_class(text, 0, pct_plus) < text.len()
}

impl View {
    /// The decoded view of `text`, or `None` when decoding would change
    /// nothing (no ASCII escape, no `+` where it means a space): the
    /// common case, decided by one byte search for most strings.
    pub fn of(text: &str) -> Option<View> {
        let b = text.as_bytes();
        if !has_escape_byte(b) {
            return None;
        }
        // The replacements in order: (offset, encoded length, byte).
        let mut subs: Vec<(usize, usize, u8)> = Vec::new();
        let mut forms: Vec<(usize, usize)> = Vec::new();
        let mut at = 0;
        while at < b.len() {
            if b[at].is_ascii_whitespace() {
                at += 1;
                continue;
            }
            let end = b[at..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(b.len(), |n| at + n);
            let run = &b[at..end];
            if memchr::memchr2(b'%', b'+', run).is_some() {
                let (fs, fe) = form_region(run);
                if fs < fe {
                    forms.push((at + fs, at + fe));
                }
                let mut i = 0;
                while i < run.len() {
                    if let Some(v) = escape_at(run, i) {
                        subs.push((at + i, 3, v));
                        i += 3;
                    } else {
                        if run[i] == b'+' && (fs..fe).contains(&i) {
                            subs.push((at + i, 1, b' '));
                        }
                        i += 1;
                    }
                }
            }
            at = end;
        }
        if subs.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(b.len());
        let mut from = Vec::with_capacity(b.len() + 1);
        let mut next = 0;
        for (pos, len, byte) in subs {
            out.extend_from_slice(&b[next..pos]);
            from.extend(next..pos);
            out.push(byte);
            from.push(pos);
            next = pos + len;
        }
        out.extend_from_slice(&b[next..]);
        from.extend(next..=b.len());
        // Only ASCII sequences were replaced by ASCII bytes: still UTF-8.
        let text = String::from_utf8(out).ok()?;
        Some(View { text, from, forms })
    }

    /// The original span of the view's bytes `start..end`.
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.from[start], self.from[end])
    }

    /// Encodes `value`, which replaces the original span starting at
    /// `start`, for where it goes: bytes that would end or change a query
    /// value or a path segment (`&`, `=`, `+`, `#`, `%`, `/`, `?`, spaces,
    /// quotes, ...) are percent-encoded, and a space is `+` in a form region, `%20`
    /// elsewhere.
    pub fn encode(&self, start: usize, value: &str, out: &mut String) {
        let form = self.forms.iter().any(|&(s, e)| (s..e).contains(&start));
        for b in value.bytes() {
            if b == b' ' && form {
                out.push('+');
            } else if keeps(b) {
                out.push(char::from(b));
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

/// A byte that stays as it is in an encoded value: RFC 3986's unreserved
/// characters, the sub-delimiters and `:@` that mean nothing inside a query
/// value or a path segment (not `&`, `=`, `+`), and the brackets of
/// `[REDACTED:rule]`, which the WHATWG URL standard leaves unencoded in
/// queries and paths. `/` and `?` are encoded: in a path they would add a
/// segment or start the query.
fn keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'*'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b','
                | b';'
                | b':'
                | b'@'
                | b'['
                | b']'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(t: &str) -> Option<String> {
        View::of(t).map(|v| v.text)
    }

    #[test]
    fn escape_bytes_found_eight_at_a_time() {
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        for len in 0..40 {
            for _ in 0..200 {
                let t: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        b"ab%+\xa5\xab\x00 "[(x % 8) as usize]
                    })
                    .collect();
                let want = t.iter().any(|b| matches!(b, b'%' | b'+'));
                assert_eq!(has_escape_byte(&t), want, "{t:?}");
            }
        }
    }

    #[test]
    fn decodes_escapes_and_form_spaces() {
        assert_eq!(
            decoded("phone=%2B49+30+90182736").as_deref(),
            Some("phone=+49 30 90182736")
        );
        assert_eq!(
            decoded("GET /a+b/c?q=x+y#frag+z 200").as_deref(),
            Some("GET /a+b/c?q=x y#frag+z 200"),
            "`+` is a space in the query only"
        );
        assert_eq!(
            decoded("/users/%2B4930%20x").as_deref(),
            Some("/users/+4930 x")
        );
        assert_eq!(decoded("a=%41%62&b=c%25d").as_deref(), Some("a=Ab&b=c%d"));
    }

    #[test]
    fn leaves_what_is_no_encoding() {
        for t in [
            "",
            "plain text",
            "call +49 30 90182736 now",
            "C++ and 1+1",
            "100% done",
            "bad %zz %2 %",
            "/path/with+plus",
            "caf%C3%A9",
            "%252B",
        ] {
            let v = View::of(t);
            match t {
                "%252B" => assert_eq!(v.map(|v| v.text).as_deref(), Some("%2B"), "decoded once"),
                _ => assert!(v.is_none(), "{t:?} -> {:?}", v.map(|v| v.text)),
            }
        }
    }

    /// Every byte of the view decodes from its original span, and the spans
    /// tile the original (random texts over the bytes that matter).
    #[test]
    fn offsets_map_back() {
        const ALPHABET: &[u8] = b"%+?#=&2B4a0F ze\xc3\xa9/";
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let len = (x % 24) as usize;
            let t: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ALPHABET[(x % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let t = String::from_utf8_lossy(&t).into_owned();
            let Some(v) = View::of(&t) else { continue };
            let b = t.as_bytes();
            assert_eq!(v.from.len(), v.text.len() + 1, "{t:?}");
            assert_eq!((v.from[0], v.from[v.text.len()]), (0, b.len()), "{t:?}");
            for (i, &d) in v.text.as_bytes().iter().enumerate() {
                let (s, e) = v.original(i, i + 1);
                let src = &b[s..e];
                let ok = match src {
                    [c] => *c == d || (*c == b'+' && d == b' '),
                    [b'%', ..] => escape_at(src, 0) == Some(d),
                    _ => false,
                };
                assert!(ok, "{t:?}: byte {i} {:?} from {src:?}", d as char);
            }
        }
    }

    #[test]
    fn encodes_for_the_place() {
        let v = View::of("p=%2B1&q=/a?b").expect("view");
        let mut out = String::new();
        v.encode(2, "+49 30 [x]&y=z#%/?", &mut out);
        assert_eq!(out, "%2B49+30+[x]%26y%3Dz%23%25%2F%3F");
        let v = View::of("/users/%2B4930").expect("view");
        out.clear();
        v.encode(7, "+49 30", &mut out);
        assert_eq!(out, "%2B49%2030", "no form region in a path");
        out.clear();
        v.encode(
            7,
            "tok_v1_0123456789abcdef u_1@example.com ****12",
            &mut out,
        );
        assert_eq!(out, "tok_v1_0123456789abcdef%20u_1@example.com%20****12");
    }
}
