//! Truncated, interleaved and garbled variants of the real traces: whatever
//! is readable is read, nothing is invented, the damage is reported, and
//! nothing panics.

use std::collections::HashSet;

use stacktrace::{Frame, Parsed, Problem, Runtime};

use crate::Sample;
use crate::support::{in_app, parse_in_repo};

fn samples() -> Vec<(&'static str, &'static Sample)> {
    vec![
        ("python", crate::python::sample()),
        ("java", crate::java::sample()),
        ("go", crate::go::sample()),
        ("node", crate::node::sample()),
        ("node cause", crate::node::cause_sample()),
        ("python group", crate::python::group_sample()),
        ("rust", crate::rust::sample()),
    ]
}

/// A printed location; a variant must not report one the runtime did not
/// print.
type Key = (Option<String>, Option<u32>);

fn key(f: &Frame) -> Key {
    (f.file.clone(), f.line)
}

/// The printed locations of all frames (frames without one, such as a Rust
/// symbol whose `at` line was cut off, claim nothing).
fn all_frames(p: &Parsed) -> Vec<Key> {
    p.exceptions
        .iter()
        .flat_map(|e| e.frames.iter().map(key))
        .filter(|(file, line)| file.is_some() || line.is_some())
        .collect()
}

/// Char boundaries of `text`, every `step` bytes.
fn cuts(text: &str, step: usize) -> impl Iterator<Item = usize> + '_ {
    (0..text.len())
        .step_by(step)
        .filter(|i| text.is_char_boundary(*i))
}

#[test]
fn truncated_at_every_point_reads_a_prefix_and_says_so() {
    for (name, s) in samples() {
        let full = parse_in_repo(&s.text, &s.files, Some(s.hint));
        let known: HashSet<Key> = all_frames(&full).into_iter().collect();
        for cut in cuts(&s.text, 1) {
            let text = &s.text[..cut];
            let p = parse_in_repo(text, &s.files, Some(s.hint));
            let mid_line = !text.is_empty() && !text.ends_with('\n');
            // Only the last, cut line can yield a frame the runtime did not
            // print (a line number missing its last digits).
            let invented = all_frames(&p)
                .into_iter()
                .filter(|k| !known.contains(k))
                .count();
            assert!(
                invented <= usize::from(mid_line),
                "{name}: cut at {cut} invented {invented} frames from:\n{text}"
            );
            if p.exceptions.is_empty() {
                assert!(
                    p.problems
                        .iter()
                        .any(|r| matches!(r, Problem::Empty | Problem::UnknownFormat)),
                    "{name}: cut at {cut}: no exception and no reason"
                );
            }
        }
    }
}

#[test]
fn a_python_traceback_cut_before_its_exception_line_is_truncated() {
    let s = crate::python::sample();
    let last_line_start = s.text.trim_end().rfind('\n').map_or(0, |i| i + 1);
    // Cuts inside a block's frames (the cut line is a frame or source line):
    // its exception line is missing.
    let in_frames = |c: &usize| {
        let head = &s.text[..*c];
        let line = head.rsplit('\n').next().unwrap_or(head);
        *c < last_line_start && line.starts_with("  ")
    };
    for cut in cuts(&s.text, 1).filter(in_frames) {
        let p = parse_in_repo(&s.text[..cut], &s.files, None);
        assert!(
            p.problems.contains(&Problem::Truncated),
            "cut at {cut} not reported as truncated: {:?}\n{}",
            p.problems,
            &s.text[..cut]
        );
    }
}

#[test]
fn cut_at_the_front_still_reads_the_frames_that_remain() {
    for (name, s) in samples() {
        let full = parse_in_repo(&s.text, &s.files, Some(s.hint));
        let known: HashSet<Key> = all_frames(&full).into_iter().collect();
        for cut in cuts(&s.text, 3) {
            let text = &s.text[cut..];
            let p = parse_in_repo(text, &s.files, Some(s.hint));
            let invented = all_frames(&p)
                .into_iter()
                .filter(|k| !known.contains(k))
                .count();
            assert!(
                invented <= 1,
                "{name}: front cut at {cut} invented {invented} frames:\n{text}"
            );
        }
    }
}

/// Log lines of another component written between the trace's lines.
#[test]
fn interleaved_log_lines_are_skipped_and_counted() {
    for (name, s) in samples() {
        let full = parse_in_repo(&s.text, &s.files, Some(s.hint));
        let mut mixed = String::new();
        for (i, line) in s.text.lines().enumerate() {
            mixed.push_str(line);
            mixed.push('\n');
            if i % 3 == 1 {
                mixed.push_str(&format!(
                    "2026-12-07T01:02:{:02}.123Z INFO http: served GET /health status=200 in {}ms\n",
                    i % 60,
                    i * 7
                ));
            }
        }
        let p = parse_in_repo(&mixed, &s.files, None);
        assert_eq!(p.runtime, full.runtime, "{name}");
        assert!(
            p.problems.contains(&Problem::UnreadLines),
            "{name}: interleaved lines not reported: {:?}",
            p.problems
        );
        assert_eq!(
            in_app(&p.exceptions[0]),
            in_app(&full.exceptions[0]),
            "{name}: the failure's frames changed by interleaving:\n{mixed}"
        );
    }
}

/// A deterministic generator (no dependency) for the garbling test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const JUNK: &[&str] = &[
    "\u{0}", "\u{fffd}", "é", "🙂", ")", "(", ":", "\"", "\t", "at ", " +0x", "'", "\r", "[", "]",
    "<", ">", "::",
];

#[test]
fn garbled_text_never_panics_and_keeps_what_it_can() {
    let mut rng = Lcg(0x5eed);
    for (name, s) in samples() {
        let full = parse_in_repo(&s.text, &s.files, Some(s.hint));
        let lines: Vec<&str> = s.text.lines().collect();
        for round in 0..200 {
            // Replace a few characters of a few lines with junk.
            let mut garbled: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            let damaged = 1 + (rng.next() % 3) as usize;
            for _ in 0..damaged {
                let i = (rng.next() as usize) % garbled.len();
                let line = &garbled[i];
                let chars: Vec<char> = line.chars().collect();
                let at = if chars.is_empty() {
                    0
                } else {
                    (rng.next() as usize) % chars.len()
                };
                let junk = JUNK[(rng.next() as usize) % JUNK.len()];
                let mut out: String = chars[..at].iter().collect();
                out.push_str(junk);
                out.extend(chars[at..].iter().skip(1));
                garbled[i] = out;
            }
            let text = garbled.join("\n");
            let p = parse_in_repo(&text, &s.files, Some(s.hint));
            if p.is_clean() && p.runtime == full.runtime {
                // Damage that left every line parseable must not lose frames
                // of the lines it did not touch: at least half remain.
                assert!(
                    all_frames(&p).len() * 2 >= all_frames(&full).len(),
                    "{name} round {round}: a clean parse lost frames:\n{text}"
                );
            }
        }
    }
}

#[test]
fn unknown_formats_yield_a_reason_and_no_frames() {
    let garbage = [
        "",
        "   \n\t\n",
        "connection reset by peer",
        "ERROR something failed\n  while doing a thing\n",
        "#0  0x00007f in raise () from /lib/x86_64-linux-gnu/libc.so.6\n#1  0x00007f in abort ()",
        "{\"level\":\"error\",\"msg\":\"boom\"}",
    ];
    for text in garbage {
        let p = stacktrace::parse(text);
        assert!(p.exceptions.is_empty(), "{text:?} gave {:?}", p.exceptions);
        assert!(
            p.problems == [Problem::Empty] || p.problems == [Problem::UnknownFormat],
            "{text:?}: {:?}",
            p.problems
        );
    }
    let mut rng = Lcg(7);
    let noise: String = (0..200_000)
        .map(|_| char::from_u32(32 + (rng.next() % 95) as u32).unwrap_or(' '))
        .collect();
    let p = stacktrace::parse(&noise);
    assert!(p.frames().is_empty() || p.problems.contains(&Problem::UnreadLines));
}

#[test]
fn a_wrong_hint_falls_back_to_detection() {
    let java = crate::java::sample();
    let p = parse_in_repo(&java.text, &java.files, Some("python"));
    assert_eq!(p.runtime, Some(Runtime::Java));
    assert!(
        p.problems.contains(&Problem::HintMismatch),
        "{:?}",
        p.problems
    );
    let go = crate::go::sample();
    let p = parse_in_repo(&go.text, &go.files, Some("ruby"));
    assert_eq!(p.runtime, Some(Runtime::Go));
    assert!(
        p.is_clean(),
        "an unsupported hint is no mismatch: {:?}",
        p.problems
    );
    for (name, s) in samples() {
        let p = parse_in_repo(&s.text, &s.files, None);
        let hinted = parse_in_repo(&s.text, &s.files, Some(s.hint));
        assert_eq!(p, hinted, "{name}: detection and the hint disagree");
    }
}
