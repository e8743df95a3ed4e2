//! Test fixtures: a small Python module, an index of it built with the real
//! `symbols::IndexWriter`, and a traceback produced by really running the
//! module with `python3` (so file and line truth is the interpreter's).

use std::path::PathBuf;
use std::process::Command;

use symbols::{CommitInfo, DefKind, DefinitionInput, FileInput, IndexWriter, Language};

/// The commit of the test index.
pub(crate) const SHA_A: &str = "0123456789abcdef0123456789abcdef01234567";
/// Another commit.
pub(crate) const SHA_B: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// `shop/orders.py`: `place([])` raises in `Order.total` at line 7.
pub(crate) const ORDERS_PY: &str = "class Order:
    def __init__(self, items):
        self.items = items

    def total(self):
        if not self.items:
            raise ValueError(\"empty order\")
        return sum(self.items)


def place(items):
    return Order(items).total()
";

fn def(
    start: u32,
    end: u32,
    kind: DefKind,
    name: &str,
    parent: Option<usize>,
    change: Option<usize>,
) -> DefinitionInput {
    let qualified = match name {
        "orders" => "shop.orders".to_owned(),
        "Order" | "place" => format!("shop.orders.{name}"),
        _ => format!("shop.orders.Order.{name}"),
    };
    DefinitionInput {
        start_line: start,
        end_line: end,
        kind,
        name: name.into(),
        qualified_name: qualified,
        parent,
        last_change: change,
    }
}

/// An index of [`ORDERS_PY`] at `commit`, owned by `@shop-team`.
pub(crate) fn index_bytes(commit: &str) -> Vec<u8> {
    let mut w = IndexWriter::new(commit, 1_700_000_000, "symbolize tests");
    let change = w.add_commit(CommitInfo {
        sha: commit.into(),
        author: "A <a@example.com>".into(),
        time: 1_700_000_000,
    });
    w.add_file(FileInput {
        path: "shop/orders.py".into(),
        language: Language::Python,
        owners: vec!["@shop-team".into()],
        definitions: vec![
            def(1, 12, DefKind::Module, "orders", None, Some(change)),
            def(1, 8, DefKind::Class, "Order", Some(0), Some(change)),
            def(2, 3, DefKind::Method, "__init__", Some(1), Some(change)),
            def(5, 8, DefKind::Method, "total", Some(1), Some(change)),
            def(11, 12, DefKind::Function, "place", Some(0), Some(change)),
        ],
        edges: vec![],
    });
    match w.finish() {
        Ok(bytes) => bytes,
        Err(e) => panic!("test index: {e}"),
    }
}

/// The traceback `python3` prints for `place([])`, with the module at
/// `<tmp>/srv/shop/orders.py` (a deploy prefix the index does not have).
pub(crate) fn python_traceback(tag: &str) -> String {
    let dir = std::env::temp_dir().join(format!("symbolize-test-{}-{tag}", std::process::id()));
    let pkg: PathBuf = dir.join("srv").join("shop");
    std::fs::create_dir_all(&pkg).unwrap_or_else(|e| panic!("mkdir {}: {e}", pkg.display()));
    std::fs::write(pkg.join("__init__.py"), "").unwrap_or_else(|e| panic!("write: {e}"));
    std::fs::write(pkg.join("orders.py"), ORDERS_PY).unwrap_or_else(|e| panic!("write: {e}"));
    let out = Command::new("python3")
        .arg("-c")
        .arg("import shop.orders; shop.orders.place([])")
        .env("PYTHONPATH", dir.join("srv"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for these tests: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "the module was meant to raise");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(text.contains("ValueError: empty order"), "{text}");
    text
}
