//! Builds symbol index files (the `symbols` format) from a git repository at a
//! commit, for the `tracemend-symbols` command run in CI per commit.
//!
//! [`indexer::build`] reads the commit's tree through the git command line
//! ([`git`]), parses Python, Go, Java, JavaScript/TypeScript and Rust files with
//! tree-sitter ([`extract`], names from [`naming`]), takes each definition's last
//! change from `git blame` and each file's owners from CODEOWNERS
//! ([`codeowners`]), and lays the index out with [`symbols::IndexWriter`].

#![deny(missing_docs)]

pub mod codeowners;
pub mod extract;
pub mod git;
pub mod indexer;
pub mod naming;

pub use indexer::{IndexError, Options, Report, build};
