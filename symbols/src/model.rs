//! The small enumerations stored as one byte in the index: languages,
//! definition kinds and edge kinds.

/// The language a source file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// Python (`.py`).
    Python,
    /// Go (`.go`).
    Go,
    /// Java (`.java`).
    Java,
    /// JavaScript (`.js`, `.mjs`, `.cjs`, `.jsx`).
    JavaScript,
    /// TypeScript (`.ts`, `.mts`, `.cts`, `.tsx`).
    TypeScript,
    /// Rust (`.rs`).
    Rust,
}

impl Language {
    /// Every language, in code order.
    pub const ALL: [Language; 6] = [
        Language::Python,
        Language::Go,
        Language::Java,
        Language::JavaScript,
        Language::TypeScript,
        Language::Rust,
    ];

    /// The byte stored in the index.
    pub fn code(self) -> u8 {
        match self {
            Language::Python => 1,
            Language::Go => 2,
            Language::Java => 3,
            Language::JavaScript => 4,
            Language::TypeScript => 5,
            Language::Rust => 6,
        }
    }

    /// The language stored as `code`, if it is one.
    pub fn from_code(code: u8) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The lower-case name (`python`, `go`, `java`, `javascript`, `typescript`, `rust`),
    /// which is also what the symbol id hashes.
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Go => "go",
            Language::Java => "java",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Rust => "rust",
        }
    }

    /// The language of a path, from its extension; `None` for files the index skips.
    pub fn from_path(path: &str) -> Option<Language> {
        let ext = path.rsplit_once('.')?.1;
        match ext {
            "py" => Some(Language::Python),
            "go" => Some(Language::Go),
            "java" => Some(Language::Java),
            "js" | "mjs" | "cjs" | "jsx" => Some(Language::JavaScript),
            "ts" | "mts" | "cts" | "tsx" => Some(Language::TypeScript),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }
}

/// What a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// A whole file: a Python or JS/TS module, a Go package file, a Java compilation
    /// unit, a Rust module file. Every indexed file has exactly one, spanning all its lines.
    Module,
    /// A class (Python, Java, JS/TS).
    Class,
    /// An interface (Java, TS, Go).
    Interface,
    /// A struct (Go, Rust).
    Struct,
    /// An enum (Java, TS, Rust).
    Enum,
    /// A trait (Rust).
    Trait,
    /// An `impl` block (Rust).
    Impl,
    /// A free function.
    Function,
    /// A function inside a class, impl, trait or with a receiver (Go).
    Method,
    /// An inline module (`mod x { .. }` in Rust, `namespace` in TS).
    Namespace,
}

impl DefKind {
    const ALL: [DefKind; 10] = [
        DefKind::Module,
        DefKind::Class,
        DefKind::Interface,
        DefKind::Struct,
        DefKind::Enum,
        DefKind::Trait,
        DefKind::Impl,
        DefKind::Function,
        DefKind::Method,
        DefKind::Namespace,
    ];

    /// The byte stored in the index.
    pub fn code(self) -> u8 {
        match self {
            DefKind::Module => 1,
            DefKind::Class => 2,
            DefKind::Interface => 3,
            DefKind::Struct => 4,
            DefKind::Enum => 5,
            DefKind::Trait => 6,
            DefKind::Impl => 7,
            DefKind::Function => 8,
            DefKind::Method => 9,
            DefKind::Namespace => 10,
        }
    }

    /// The kind stored as `code`, if it is one.
    pub fn from_code(code: u8) -> Option<DefKind> {
        DefKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The lower-case name, as printed by the tools.
    pub fn name(self) -> &'static str {
        match self {
            DefKind::Module => "module",
            DefKind::Class => "class",
            DefKind::Interface => "interface",
            DefKind::Struct => "struct",
            DefKind::Enum => "enum",
            DefKind::Trait => "trait",
            DefKind::Impl => "impl",
            DefKind::Function => "function",
            DefKind::Method => "method",
            DefKind::Namespace => "namespace",
        }
    }

    /// Whether this kind is code that runs (a function or method), the kinds call
    /// edges start from and resolve to.
    pub fn is_callable(self) -> bool {
        matches!(self, DefKind::Function | DefKind::Method)
    }
}

/// What an edge records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// A call whose callee's last name segment is the target (`self.save()` -> `save`).
    Call,
    /// An import of the target (a module path as written: `os.path`, `fmt`, `./util`).
    Import,
}

impl EdgeKind {
    /// The byte stored in the index.
    pub fn code(self) -> u8 {
        match self {
            EdgeKind::Call => 1,
            EdgeKind::Import => 2,
        }
    }

    /// The kind stored as `code`, if it is one.
    pub fn from_code(code: u8) -> Option<EdgeKind> {
        match code {
            1 => Some(EdgeKind::Call),
            2 => Some(EdgeKind::Import),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for l in Language::ALL {
            assert_eq!(Language::from_code(l.code()), Some(l));
        }
        for k in DefKind::ALL {
            assert_eq!(DefKind::from_code(k.code()), Some(k));
        }
        assert_eq!(Language::from_code(0), None);
        assert_eq!(DefKind::from_code(200), None);
        assert_eq!(EdgeKind::from_code(3), None);
    }

    #[test]
    fn languages_from_extensions() {
        assert_eq!(Language::from_path("a/b.py"), Some(Language::Python));
        assert_eq!(Language::from_path("web/x.tsx"), Some(Language::TypeScript));
        assert_eq!(Language::from_path("src/lib.rs"), Some(Language::Rust));
        assert_eq!(Language::from_path("Makefile"), None);
        assert_eq!(Language::from_path("README.md"), None);
    }
}
