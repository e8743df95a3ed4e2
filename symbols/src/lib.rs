//! The per-commit symbol index file format, read in place by guests and the
//! repair engine.
//!
//! An index describes one repository at one commit: its source files (path,
//! language, owners), their definitions (line ranges, qualified names, nesting,
//! the commit that last changed them), and name-based call and import edges. The
//! file is sorted tables over one string arena ([`layout`]), so a reader borrows
//! the bytes, checks the header and section bounds once ([`Index::parse`]) and
//! answers each lookup with binary searches: `(file, line)` to the innermost
//! definition is O(log n) with nothing parsed at load.
//!
//! [`IndexWriter`] lays out the file (the `codeindex` crate fills it from git and
//! tree-sitter). The crate is std-only so that `wasm32-wasip2` guests build it.
//! `docs/symbols.md` documents the byte layout and the lookup semantics.

#![deny(missing_docs)]

mod error;
mod graph;
mod id;
pub mod layout;
mod model;
mod paths;
mod reader;
mod records;
mod writer;

pub use error::{BuildError, FormatError};
pub use graph::Edge;
pub use id::{format_symbol_id, symbol_id};
pub use model::{DefKind, EdgeKind, Language};
pub use reader::Index;
pub use records::{Commit, Definition, File};
pub use writer::{CommitInfo, DefinitionInput, EdgeInput, FileInput, IndexWriter};
