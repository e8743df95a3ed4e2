//! The text the injection signals are scored on: lowercase ASCII, with the
//! disguises an attacker uses to slip past word lists undone.
//!
//! - invisible characters (zero-width, bidi controls, soft hyphen) are
//!   dropped, and Unicode tag characters (U+E0020..U+E007E, "ASCII
//!   smuggling") become the ASCII they encode;
//! - fullwidth forms, mathematical alphanumerics, circled letters and the
//!   Cyrillic, Greek and Latin letters that look like ASCII ones become
//!   those ASCII letters;
//! - typographic quotes, dashes and spaces become their ASCII forms, runs
//!   of spaces one space (newlines are kept: a new message starts on one;
//!   carriage returns are dropped);
//! - markdown emphasis (`*`, `~`) is dropped, and strings split into quoted
//!   pieces (`"![t","](htt","ps://..."`) are joined again.
//!
//! Any other non-ASCII character becomes byte 0x1A, which is neither a word
//! character nor a space, so words on either side stay apart.

/// What a non-ASCII character stands for.
enum Mapped {
    /// Nothing: invisible.
    Drop,
    /// This ASCII byte.
    Ascii(u8),
}

/// Byte for a character with no ASCII look-alike.
const OTHER: u8 = 0x1A;

/// Look-alike letters (Cyrillic, Greek, Latin) and the ASCII letter each
/// is read as.
const CONFUSABLES: &[(char, u8)] = &[
    ('а', b'a'),
    ('в', b'b'),
    ('е', b'e'),
    ('о', b'o'),
    ('р', b'p'),
    ('с', b'c'),
    ('у', b'y'),
    ('х', b'x'),
    ('і', b'i'),
    ('ј', b'j'),
    ('ѕ', b's'),
    ('ԁ', b'd'),
    ('ӏ', b'l'),
    ('һ', b'h'),
    ('ԛ', b'q'),
    ('ԝ', b'w'),
    ('к', b'k'),
    ('м', b'm'),
    ('н', b'h'),
    ('т', b't'),
    ('А', b'a'),
    ('В', b'b'),
    ('Е', b'e'),
    ('К', b'k'),
    ('М', b'm'),
    ('Н', b'h'),
    ('О', b'o'),
    ('Р', b'p'),
    ('С', b'c'),
    ('Т', b't'),
    ('Х', b'x'),
    ('У', b'y'),
    ('І', b'i'),
    ('Ѕ', b's'),
    ('Ј', b'j'),
    ('α', b'a'),
    ('ο', b'o'),
    ('ρ', b'p'),
    ('ε', b'e'),
    ('ι', b'i'),
    ('κ', b'k'),
    ('ν', b'v'),
    ('τ', b't'),
    ('υ', b'u'),
    ('χ', b'x'),
    ('Α', b'a'),
    ('Β', b'b'),
    ('Ε', b'e'),
    ('Ζ', b'z'),
    ('Η', b'h'),
    ('Ι', b'i'),
    ('Κ', b'k'),
    ('Μ', b'm'),
    ('Ν', b'n'),
    ('Ο', b'o'),
    ('Ρ', b'p'),
    ('Τ', b't'),
    ('Υ', b'y'),
    ('Χ', b'x'),
    ('ı', b'i'),
    ('ſ', b's'),
    ('ɑ', b'a'),
    ('ɡ', b'g'),
    ('ɩ', b'i'),
];

/// Is `c` a character no reader sees (and so one that only hides words)?
pub(crate) fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}')
}

fn map(c: char) -> Mapped {
    let u = c as u32;
    let ascii = |b: u32| Mapped::Ascii(b as u8);
    match c {
        // Tag characters spell ASCII invisibly.
        '\u{E0020}'..='\u{E007E}' => ascii(u - 0xE0000),
        _ if invisible(c) => Mapped::Drop,
        '\u{FF01}'..='\u{FF5E}' => ascii(u - 0xFEE0),
        '\u{00A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => Mapped::Ascii(b' '),
        '\u{2028}' | '\u{2029}' => Mapped::Ascii(b'\n'),
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => Mapped::Ascii(b'\''),
        '\u{201C}'..='\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => Mapped::Ascii(b'"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Mapped::Ascii(b'-'),
        // Mathematical alphanumerics: styles of 52 letters, A-Z then a-z.
        '\u{1D400}'..='\u{1D6A3}' => ascii(u32::from(b'a') + (u - 0x1D400) % 52 % 26),
        '\u{1D7CE}'..='\u{1D7FF}' => ascii(u32::from(b'0') + (u - 0x1D7CE) % 10),
        '\u{24B6}'..='\u{24CF}' => ascii(u32::from(b'a') + u - 0x24B6),
        '\u{24D0}'..='\u{24E9}' => ascii(u32::from(b'a') + u - 0x24D0),
        _ => CONFUSABLES
            .iter()
            .find(|(k, _)| *k == c)
            .map_or(Mapped::Ascii(OTHER), |(_, a)| Mapped::Ascii(*a)),
    }
}

/// `text` normalized for scoring (see the module docs).
pub(crate) fn normalize(text: &str) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let b = if c.is_ascii() {
            c as u8
        } else {
            match map(c) {
                Mapped::Drop => continue,
                Mapped::Ascii(b) => b,
            }
        };
        let b = match b.to_ascii_lowercase() {
            b'\r' => continue,
            b'\t' => b' ',
            b'*' | b'~' => continue,
            b => b,
        };
        // One space for a run; none after a newline.
        if b == b' ' && matches!(out.last(), Some(b' ' | b'\n')) {
            continue;
        }
        out.push(b);
        join_split_string(&mut out);
    }
    out
}

/// Drops the `","` (or `', '`, `" + "`) just written between two pieces of a
/// string split to hide what it spells.
fn join_split_string(out: &mut Vec<u8>) {
    for sep in [
        &b"\",\""[..],
        b"\", \"",
        b"\" + \"",
        b"','",
        b"', '",
        b"' + '",
    ] {
        if out.ends_with(sep) {
            out.truncate(out.len() - sep.len());
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8_lossy(&normalize(s)).into_owned()
    }

    #[test]
    fn disguises_are_undone() {
        // Cyrillic look-alikes and a zero-width space inside a word.
        assert_eq!(norm("Ign\u{200B}оre рrevious"), "ignore previous");
        // Fullwidth and mathematical bold letters.
        assert_eq!(norm("ＳＹＳＴＥＭ: 𝐲𝐨𝐮"), "system: you");
        // Tag characters spell ASCII invisibly.
        let tags: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap_or(c))
            .collect();
        assert_eq!(norm(&format!("ok{tags}")), "okhi");
        // Typographic quotes and spaces, emphasis and runs of spaces.
        assert_eq!(
            norm("**Note**:\u{00A0}\u{201C}x\u{201D}   y\r\n  z"),
            "note: \"x\" y\nz"
        );
        // A string split into quoted pieces.
        assert_eq!(
            norm(r#""![t","](htt","ps://h/?q=1)""#),
            r#""![t](https://h/?q=1)""#
        );
        // Other letters keep words apart.
        assert_eq!(norm("caf\u{e9} ok"), "caf\u{1a} ok");
    }
}
