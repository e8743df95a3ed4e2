//! CPython tracebacks, chained exceptions included.
//!
//! Each `Traceback (most recent call last):` block lists frames outermost
//! first (`  File "p", line N, in f`, then source and caret lines) and ends
//! with `Type: message`. Blocks joined by "The above exception was the direct
//! cause…" or "During handling of the above exception…" form a chain whose
//! last block is the failure. Exception groups (3.11+) print their members'
//! tracebacks indented behind `|` and `+` decorations; each member becomes an
//! exception with [`Relation::Group`] to its group.

use crate::frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
use crate::scan::{digits, is_dotted_ident, push_message, segments, type_and_message};

const HEADER: &str = "Traceback (most recent call last):";
const CAUSE: &str = "The above exception was the direct cause of the following exception:";
const CONTEXT: &str = "During handling of the above exception, another exception occurred:";

#[derive(PartialEq)]
enum State {
    Outside,
    Frames,
    Message,
}

struct Block {
    exception: Exception,
    /// How the previous block at this depth relates to this one
    /// (`OtherThread` when no chain marker preceded it).
    link: Relation,
    /// Indentation of the exception-group decoration (0 outside groups).
    depth: usize,
}

/// Strips exception-group decoration: `  | text` and `  + text` give
/// (2, `text`); separator lines (`+-+---- 1 ----`, `+----`) give `None`.
fn ungroup(line: &str) -> Option<(usize, &str)> {
    let body = line.trim_start();
    let indent = line.len() - body.len();
    if body.starts_with("+-") || body == "+" {
        return None;
    }
    for mark in ["| ", "+ "] {
        if let Some(rest) = body.strip_prefix(mark) {
            return Some((indent, rest));
        }
    }
    if body == "|" {
        return Some((indent, ""));
    }
    Some((0, line))
}

/// Parses a Python traceback text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed {
        runtime: Some(Runtime::Python),
        ..Parsed::default()
    };
    let mut blocks: Vec<Block> = Vec::new();
    let mut state = State::Outside;
    let mut pending_link = Relation::OtherThread;
    let mut blank_run = 0usize;
    let mut last_unread = false;
    // Set once a group header is seen: only then are `|` prefixes decoration.
    let mut grouped = false;
    for raw in text.lines() {
        let mut line = raw.trim_end();
        let mut depth = 0;
        last_unread = false;
        if !grouped && line.trim_start().starts_with("+ Exception Group Traceback") {
            grouped = true;
        }
        if grouped {
            match ungroup(line) {
                Some((d, rest)) => (depth, line) = (d, rest),
                None => {
                    if state == State::Message {
                        state = State::Outside;
                    }
                    continue;
                }
            }
        }
        if line.ends_with(HEADER) {
            blocks.push(Block {
                exception: Exception::default(),
                link: std::mem::replace(&mut pending_link, Relation::OtherThread),
                depth,
            });
            state = State::Frames;
            continue;
        }
        if line == CAUSE || line == CONTEXT {
            pending_link = if line == CAUSE {
                Relation::Cause
            } else {
                Relation::Context
            };
            state = State::Outside;
            continue;
        }
        if let Some(frame) = parse_file_line(line) {
            if state != State::Frames {
                // Frames without their header: the text was cut at the front
                // or interleaved with another block.
                out.note(Problem::Truncated);
                blocks.push(Block {
                    exception: Exception::default(),
                    link: std::mem::replace(&mut pending_link, Relation::OtherThread),
                    depth,
                });
                state = State::Frames;
            }
            if let Some(b) = blocks.last_mut() {
                b.exception.frames.push(frame);
            }
            continue;
        }
        match state {
            State::Outside => {}
            State::Frames => {
                let has_frames = blocks
                    .last()
                    .is_some_and(|b| !b.exception.frames.is_empty());
                if line.starts_with("    ")
                    || line.trim_start().starts_with("[Previous line repeated")
                {
                    // Source and caret lines belong to the frame above.
                    if !has_frames {
                        out.note(Problem::UnreadLines);
                        last_unread = true;
                    }
                } else if !line.is_empty()
                    && !line.starts_with(' ')
                    && let Some((ty, message)) = type_and_message(line, is_dotted_ident)
                {
                    if let Some(b) = blocks.last_mut() {
                        b.exception.ty = Some(ty);
                        b.exception.message = message;
                    }
                    state = State::Message;
                    blank_run = 0;
                } else if !line.is_empty() {
                    out.note(Problem::UnreadLines);
                    last_unread = true;
                }
            }
            State::Message => {
                if line.is_empty() {
                    blank_run += 1;
                } else if let Some(b) = blocks.last_mut() {
                    for _ in 0..blank_run {
                        push_message(&mut b.exception.message, "");
                    }
                    blank_run = 0;
                    push_message(&mut b.exception.message, line);
                }
            }
        }
    }
    if last_unread {
        out.note(Problem::Truncated);
    }
    if blocks.is_empty() {
        return out;
    }
    if state == State::Frames || blocks.iter().any(|b| b.exception.ty.is_none()) {
        out.note(Problem::Truncated);
    }
    out.exceptions = assemble(blocks);
    out
}

/// Links blocks into the exception list: a chain marker makes the previous
/// block at the same depth the cause or context of the next one, which takes
/// over its place; a block without a marker is a member of the nearest
/// earlier group printed less indented, or else a root. The last root is the
/// failure (index 0); other roots are printed beside it (`OtherThread`).
fn assemble(blocks: Vec<Block>) -> Vec<Exception> {
    let n = blocks.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut relation: Vec<Relation> = vec![Relation::Failure; n];
    for i in 0..n {
        let depth = blocks[i].depth;
        let previous = (0..i)
            .rev()
            .take_while(|j| blocks[*j].depth >= depth)
            // Skip blocks a later one at this depth already took as its
            // cause or context.
            .find(|j| {
                blocks[*j].depth == depth
                    && !parent[*j].is_some_and(|p| p > *j && blocks[p].depth == depth)
            });
        match (blocks[i].link, previous) {
            (Relation::Cause | Relation::Context, Some(p)) => {
                parent[i] = parent[p];
                relation[i] = relation[p];
                parent[p] = Some(i);
                relation[p] = blocks[i].link;
            }
            _ => {
                let group = (0..i).rev().find(|j| blocks[*j].depth < depth);
                if let Some(g) = group {
                    parent[i] = Some(g);
                    relation[i] = Relation::Group;
                }
            }
        }
    }
    let roots: Vec<usize> = (0..n).filter(|i| parent[*i].is_none()).collect();
    let Some(&failure) = roots.last() else {
        return Vec::new();
    };
    for &r in &roots[..roots.len() - 1] {
        parent[r] = Some(failure);
        relation[r] = Relation::OtherThread;
    }
    relation[failure] = Relation::Failure;
    // Depth-first from the failure, children in print order: a plain chain
    // comes out failure, its cause or context, theirs, and so on; group
    // members in the order the group holds them.
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![failure];
    while let Some(b) = stack.pop() {
        order.push(b);
        stack.extend((0..n).rev().filter(|c| parent[*c] == Some(b)));
    }
    let mut index = vec![0usize; n];
    for (k, b) in order.iter().enumerate() {
        index[*b] = k;
    }
    let mut slots: Vec<Option<Block>> = blocks.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|b| {
            let mut e = slots[*b].take()?.exception;
            e.frames.reverse();
            e.relation = relation[*b];
            e.parent = parent[*b].map(|p| index[p]);
            Some(e)
        })
        .collect()
}

/// `  File "path", line N, in function` (the `, in` part absent for syntax
/// errors).
fn parse_file_line(line: &str) -> Option<Frame> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (path, after) = rest.rsplit_once("\", line ")?;
    let (num, function) = match after.split_once(", in ") {
        Some((num, f)) => (num, Some(f.to_owned())),
        None => (after, None),
    };
    let line = digits(num)?;
    let origin = origin(path);
    let file = (!path.starts_with('<')).then(|| path.to_owned());
    Some(Frame {
        function,
        file,
        abs_path: Some(path.to_owned()),
        line: Some(line),
        origin,
        ..Frame::default()
    })
}

fn origin(path: &str) -> Origin {
    if path.starts_with("<frozen ") {
        return Origin::Runtime;
    }
    if segments(path).any(|(_, s)| s == "site-packages" || s == "dist-packages") {
        return Origin::Dependency;
    }
    if stdlib_rest(path).is_some() {
        return Origin::Runtime;
    }
    Origin::Application
}

/// The path after `lib/pythonX.Y/` (or `Lib/` on Windows), for the standard
/// library.
fn stdlib_rest(path: &str) -> Option<&str> {
    let mut previous = "";
    for (at, seg) in segments(path) {
        let rest = || path.get(at + seg.len() + 1..).filter(|r| !r.is_empty());
        if let Some(version) = seg.strip_prefix("python")
            && previous == "lib"
            && !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return rest();
        }
        if seg == "Lib" && at > 0 {
            return rest();
        }
        previous = seg;
    }
    None
}

/// Sets the frame's module from its (normalized) path: the dotted module
/// path for repository-relative and standard-library files, the file stem
/// otherwise.
pub(crate) fn set_module(frame: &mut Frame) {
    let Some(file) = frame.file.as_deref() else {
        return;
    };
    let rel = match stdlib_rest(file) {
        Some(rest) => rest,
        None if file.starts_with('/') => file.rsplit('/').next().unwrap_or(file),
        None => file,
    };
    let rel = rel.strip_suffix(".py").unwrap_or(rel);
    let rel = rel.strip_suffix("/__init__").unwrap_or(rel);
    if !rel.is_empty() {
        frame.module = Some(rel.replace('/', "."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines() {
        let f = parse_file_line("  File \"/app/x.py\", line 12, in handler").expect("frame");
        assert_eq!(f.file.as_deref(), Some("/app/x.py"));
        assert_eq!(f.line, Some(12));
        assert_eq!(f.function.as_deref(), Some("handler"));
        let f = parse_file_line("  File \"<frozen runpy>\", line 88, in _run_code").expect("frame");
        assert_eq!(f.origin, Origin::Runtime);
        assert!(f.file.is_none());
        assert!(parse_file_line("  File \"/app/x.py\", li").is_none());
    }

    #[test]
    fn modules() {
        let mut f = Frame {
            file: Some("/usr/lib/python3.11/json/decoder.py".into()),
            ..Frame::default()
        };
        set_module(&mut f);
        assert_eq!(f.module.as_deref(), Some("json.decoder"));
        let mut f = Frame {
            file: Some("pkg/sub/__init__.py".into()),
            ..Frame::default()
        };
        set_module(&mut f);
        assert_eq!(f.module.as_deref(), Some("pkg.sub"));
    }
}
