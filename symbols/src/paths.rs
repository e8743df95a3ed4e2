//! Matching a stack frame's path to an indexed file when the frame's path carries a
//! prefix the repository does not (`/app/`, `/home/runner/work/x/x/`, a build
//! directory): the longest suffix that is an indexed path wins.

use crate::error::FormatError;
use crate::reader::Index;
use crate::records::File;

impl<'a> Index<'a> {
    /// The indexed file whose path is the longest `/`-separated suffix of `path`
    /// with at least `min_components` components (`a/b.py` has two). A leading
    /// `./` or `/` is ignored; `\` separators (Windows frames) are read as `/`.
    ///
    /// `min_components` guards against matches on a bare file name: with 1, a
    /// frame in `/usr/lib/python3/site-packages/x/models.py` matches a repository's
    /// top-level `models.py`. Callers exclude library paths (`site-packages`,
    /// `node_modules`, ...) before asking. Costs one binary search per component.
    pub fn resolve_path(
        &self,
        path: &str,
        min_components: usize,
    ) -> Result<Option<File<'a>>, FormatError> {
        let owned;
        let path = if path.contains('\\') {
            owned = path.replace('\\', "/");
            owned.as_str()
        } else {
            path
        };
        let mut rest = path.trim_start_matches("./").trim_start_matches('/');
        loop {
            if rest.split('/').count() < min_components.max(1) {
                return Ok(None);
            }
            if let Some(f) = self.file(rest)? {
                return Ok(Some(f));
            }
            match rest.split_once('/') {
                Some((_, tail)) => rest = tail,
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{DefKind, DefinitionInput, FileInput, Index, IndexWriter, Language};

    fn index(paths: &[&str]) -> Vec<u8> {
        let mut w = IndexWriter::new("c", 0, "t");
        for p in paths {
            w.add_file(FileInput {
                path: (*p).to_owned(),
                language: Language::Python,
                owners: vec![],
                definitions: vec![DefinitionInput {
                    start_line: 1,
                    end_line: 1,
                    kind: DefKind::Module,
                    name: "m".into(),
                    qualified_name: "m".into(),
                    parent: None,
                    last_change: None,
                }],
                edges: vec![],
            });
        }
        w.finish().expect("valid")
    }

    #[test]
    fn longest_suffix_wins() {
        let bytes = index(&["app/models.py", "models.py", "lib/app/models.py"]);
        let idx = Index::parse(&bytes).expect("parses");
        let r = |p: &str, k: usize| idx.resolve_path(p, k).expect("lookup").map(|f| f.path);
        assert_eq!(r("/srv/app/models.py", 1), Some("app/models.py"));
        assert_eq!(r("/srv/lib/app/models.py", 1), Some("lib/app/models.py"));
        assert_eq!(r("app/models.py", 2), Some("app/models.py"));
        assert_eq!(r("./models.py", 1), Some("models.py"));
        assert_eq!(r("/x/y/models.py", 1), Some("models.py"));
        assert_eq!(r("/x/y/models.py", 2), None, "a bare name is not enough");
        assert_eq!(r("C:\\build\\app\\models.py", 2), Some("app/models.py"));
        assert_eq!(r("/x/other.py", 1), None);
        assert_eq!(r("", 1), None);
    }
}
