//! Small text helpers shared by the runtime parsers.

/// The segments of a `/`- or `\\`-separated path with their byte offsets.
/// (Segment scans instead of substring searches: `str::find` with a string
/// needle builds a searcher per call, which dominated the parse cost.)
pub(crate) fn segments(path: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    path.split(['/', '\\']).map(move |seg| {
        let at = start;
        start += seg.len() + 1;
        (at, seg)
    })
}

/// Parses a run of ASCII digits (nothing else) as a `u32`.
pub(crate) fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits `path:line` off the end of `s`.
pub(crate) fn split_line(s: &str) -> Option<(&str, u32)> {
    let (path, line) = s.rsplit_once(':')?;
    Some((path, digits(line)?)).filter(|(p, _)| !p.is_empty())
}

/// Splits `path:line:col` (or `path:line`) off the end of `s`.
pub(crate) fn split_line_col(s: &str) -> Option<(&str, u32, Option<u32>)> {
    let (rest, last) = split_line(s)?;
    match split_line(rest) {
        Some((path, line)) => Some((path, line, Some(last))),
        None => Some((rest, last, None)),
    }
}

/// Whether `s` is a dotted identifier such as `json.decoder.JSONDecodeError`
/// or `demo.M$Res` (letters, digits, `_`, `$`, `.`; not starting with a digit
/// or a dot).
pub(crate) fn is_dotted_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    !s.ends_with('.') && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.')
}

/// Splits `Type: message` or `Type` where `Type` satisfies `is_type`.
pub(crate) fn type_and_message(
    s: &str,
    is_type: impl Fn(&str) -> bool,
) -> Option<(String, Option<String>)> {
    let s = s.trim_end();
    match s.split_once(':') {
        Some((ty, msg)) if is_type(ty) => {
            let msg = msg.strip_prefix(' ').unwrap_or(msg);
            Some((
                ty.to_owned(),
                Some(msg.to_owned()).filter(|m| !m.is_empty()),
            ))
        }
        Some(_) => None,
        None if is_type(s) => Some((s.to_owned(), None)),
        None => None,
    }
}

/// Appends a line to an optional multi-line message.
pub(crate) fn push_message(message: &mut Option<String>, line: &str) {
    match message {
        Some(m) => {
            m.push('\n');
            m.push_str(line);
        }
        None => *message = Some(line.to_owned()),
    }
}

/// The index of the `(` matching the `)` that ends `s`, if `s` ends with `)`.
pub(crate) fn open_paren_of_last(s: &str) -> Option<usize> {
    if !s.ends_with(')') {
        return None;
    }
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate().rev() {
        match b {
            b')' => depth += 1,
            b'(' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(split_line_col("/a/b.js:3:9"), Some(("/a/b.js", 3, Some(9))));
        assert_eq!(split_line_col("M.java:12"), Some(("M.java", 12, None)));
        assert_eq!(
            split_line_col("C:\\x\\y.js:1:2"),
            Some(("C:\\x\\y.js", 1, Some(2)))
        );
        assert_eq!(split_line_col("nothing"), None);
        assert_eq!(split_line_col(":5"), None);
    }

    #[test]
    fn types_and_parens() {
        assert_eq!(
            type_and_message("a.B: x: y", is_dotted_ident),
            Some(("a.B".into(), Some("x: y".into())))
        );
        assert_eq!(
            type_and_message("KeyError", is_dotted_ident),
            Some(("KeyError".into(), None))
        );
        assert_eq!(type_and_message("not a type: x", is_dotted_ident), None);
        assert_eq!(open_paren_of_last("main.(*T).At(0x1, {0x2})"), Some(12));
        assert_eq!(open_paren_of_last("a(b))"), None);
        assert_eq!(open_paren_of_last("f)"), None);
    }
}
