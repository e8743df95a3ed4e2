//! Grouping fingerprints: equal for the same failure at the same place in the
//! code, across deploys that only move lines.
//!
//! The fingerprint is the 128-bit FNV-1a hash of a text ([`fingerprint_input`])
//! made of, one item a line:
//!
//! - `v1`, the version of this recipe;
//! - `type:` and the exception type;
//! - `frame:` and `file` `\0` `function` for each in-app frame, innermost first,
//!   with consecutive repeats (recursion) collapsed and hexadecimal addresses
//!   (`0x7f..`, JVM lambda classes) and digits after `$$Lambda$` removed from the
//!   function; the file is the normalized path (the module when there is none).
//!   Line and column numbers are never part of it;
//! - when no frame is in-app, the same for every frame that has a function,
//!   after a `fallback:all-frames` line;
//! - when there is no frame at all, `message:` and the message with every run
//!   of digits replaced by `0`;
//! - `extra:` and each caller-supplied part (the envelope adds the route).
//!
//! FNV-1a is used because it is tiny, dependency-free and identical on every
//! target; this is grouping, not security.

use std::fmt;

use crate::frame::{Exception, Frame};

/// A 128-bit grouping fingerprint; `Display` gives 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u128);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The fingerprint of an exception plus caller-supplied parts (for example
/// the HTTP route), in order.
pub fn fingerprint(exception: &Exception, extra: &[&str]) -> Fingerprint {
    Fingerprint(fnv1a_128(fingerprint_input(exception, extra).as_bytes()))
}

/// The text the fingerprint hashes (see the module docs); useful to see why
/// two failures group apart.
pub fn fingerprint_input(exception: &Exception, extra: &[&str]) -> String {
    let mut s = String::from("v1\ntype:");
    s.push_str(exception.ty.as_deref().unwrap_or(""));
    s.push('\n');
    let in_app: Vec<&Frame> = exception.frames.iter().filter(|f| f.in_app).collect();
    let frames: Vec<&Frame> = if in_app.is_empty() {
        let all: Vec<&Frame> = exception
            .frames
            .iter()
            .filter(|f| f.function.is_some())
            .collect();
        if !all.is_empty() {
            s.push_str("fallback:all-frames\n");
        }
        all
    } else {
        in_app
    };
    let mut previous: Option<String> = None;
    for frame in &frames {
        let place = frame
            .file
            .as_deref()
            .or(frame.module.as_deref())
            .unwrap_or("");
        let item = format!(
            "frame:{place}\0{}\n",
            stable_function(frame.function.as_deref().unwrap_or(""))
        );
        if previous.as_deref() != Some(item.as_str()) {
            s.push_str(&item);
        }
        previous = Some(item);
    }
    if frames.is_empty() {
        s.push_str("message:");
        s.push_str(&mask_digits(exception.message.as_deref().unwrap_or("")));
        s.push('\n');
    }
    for part in extra {
        s.push_str("extra:");
        s.push_str(part);
        s.push('\n');
    }
    s
}

/// Removes what changes between builds of the same code: hexadecimal
/// addresses and the numbers of generated JVM lambda classes.
fn stable_function(function: &str) -> String {
    let mut out = String::with_capacity(function.len());
    let mut rest = function;
    loop {
        let hex = rest.find("0x");
        let lambda = rest.find("$$Lambda$");
        match (hex, lambda) {
            (Some(h), l) if l.is_none_or(|l| h < l) => {
                out.push_str(&rest[..h]);
                let tail = &rest[h + 2..];
                let n = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
                rest = &tail[n..];
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l + 9]);
                let tail = &rest[l + 9..];
                let n = tail.bytes().take_while(u8::is_ascii_digit).count();
                rest = &tail[n..];
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn mask_digits(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_digits = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('0');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

const FNV_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

fn fnv1a_128(bytes: &[u8]) -> u128 {
    bytes.iter().fold(FNV_OFFSET, |h, b| {
        (h ^ u128::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(file: &str, function: &str, line: u32, in_app: bool) -> Frame {
        Frame {
            file: Some(file.into()),
            function: Some(function.into()),
            line: Some(line),
            in_app,
            ..Frame::default()
        }
    }

    fn exception(frames: Vec<Frame>) -> Exception {
        Exception {
            ty: Some("ValueError".into()),
            message: Some("bad id 42".into()),
            frames,
            ..Exception::default()
        }
    }

    #[test]
    fn moved_lines_keep_the_fingerprint() {
        let a = exception(vec![
            frame("app/x.py", "f", 10, true),
            frame("lib.py", "g", 3, false),
        ]);
        let b = exception(vec![
            frame("app/x.py", "f", 99, true),
            frame("lib.py", "g", 7, false),
        ]);
        assert_eq!(fingerprint(&a, &[]), fingerprint(&b, &[]));
        let c = exception(vec![frame("app/y.py", "f", 10, true)]);
        assert_ne!(fingerprint(&a, &[]), fingerprint(&c, &[]));
        assert_ne!(fingerprint(&a, &["GET /a"]), fingerprint(&a, &["GET /b"]));
    }

    #[test]
    fn known_vector_and_format() {
        // FNV-1a 128 of the empty input is its offset basis.
        assert_eq!(fnv1a_128(b""), FNV_OFFSET);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
        let fp = fingerprint(&exception(vec![]), &[]);
        assert_eq!(fp.to_string().len(), 32);
    }

    #[test]
    fn inputs() {
        let e = exception(vec![
            frame("a.rs", "rec", 1, true),
            frame("a.rs", "rec", 1, true),
            frame("b.rs", "run", 2, true),
        ]);
        assert_eq!(
            fingerprint_input(&e, &[]),
            "v1\ntype:ValueError\nframe:a.rs\0rec\nframe:b.rs\0run\n"
        );
        let e = exception(vec![]);
        assert_eq!(
            fingerprint_input(&e, &["r"]),
            "v1\ntype:ValueError\nmessage:bad id 0\nextra:r\n"
        );
        assert_eq!(
            stable_function("M$$Lambda$14/0x0000000800c03000.run"),
            "M$$Lambda$/.run"
        );
    }
}
