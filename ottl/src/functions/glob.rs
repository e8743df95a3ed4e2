//! Glob patterns for `replace_match` and `replace_all_matches` (gobwas/glob syntax
//! without separators: `*`, `?`, `[abc]`, `[!abc]`, `{a,b}`, `\` escapes), turned into
//! an anchored regex.

use regex::Regex;

use crate::error::EvalError;

/// Compiles a glob.
pub(super) fn compile(glob: &str) -> Result<Regex, EvalError> {
    let mut re = String::from("^(?s:");
    let mut chars = glob.chars().peekable();
    let mut braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '\\' => match chars.next() {
                Some(e) => re.push_str(&regex::escape(&e.to_string())),
                None => {
                    return Err(EvalError::new(format!(
                        "invalid glob {glob:?}: trailing backslash"
                    )));
                }
            },
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    if c == '\\' || c == '[' || c == '&' || c == '~' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                if !closed {
                    return Err(EvalError::new(format!(
                        "invalid glob {glob:?}: unclosed `[`"
                    )));
                }
                re.push(']');
            }
            '{' => {
                braces += 1;
                re.push_str("(?:");
            }
            ',' if braces > 0 => re.push('|'),
            '}' if braces > 0 => {
                braces -= 1;
                re.push(')');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    if braces > 0 {
        return Err(EvalError::new(format!(
            "invalid glob {glob:?}: unclosed `{{`"
        )));
    }
    re.push_str(")$");
    Regex::new(&re).map_err(|e| EvalError::new(format!("invalid glob {glob:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_strings() {
        let g = compile("/api/v1/document/*/update").expect("valid");
        assert!(g.is_match("/api/v1/document/12345678/update"));
        assert!(!g.is_match("/api/v1/document/1/update/x"));
        assert!(compile("a?c").expect("valid").is_match("abc"));
        assert!(compile("{foo,bar}.txt").expect("valid").is_match("bar.txt"));
        assert!(compile("[!x]y").expect("valid").is_match("ay"));
        assert!(!compile("[!x]y").expect("valid").is_match("xy"));
        assert!(compile("[abc").is_err());
    }
}
