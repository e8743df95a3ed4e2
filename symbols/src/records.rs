//! The records a lookup returns, decoded from the index bytes (strings borrowed).

use crate::model::{DefKind, Language};

/// An indexed source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct File<'a> {
    /// Position in the files table.
    pub index: u32,
    /// Path relative to the repository root.
    pub path: &'a str,
    /// Its language.
    pub language: Language,
    pub(crate) owners_start: u32,
    pub(crate) owners_count: u32,
    pub(crate) defs_start: u32,
    pub(crate) defs_count: u32,
}

/// A commit of the change overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit<'a> {
    /// Full hex sha.
    pub sha: &'a str,
    /// `Name <mail>`.
    pub author: &'a str,
    /// Author time, seconds since the Unix epoch.
    pub time: i64,
}

/// A definition, decoded from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition<'a> {
    /// Position in the definitions table (valid for this index file only).
    pub index: u32,
    /// The file's path.
    pub path: &'a str,
    /// The file's language.
    pub language: Language,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// What it is.
    pub kind: DefKind,
    /// Its own name.
    pub name: &'a str,
    /// Its qualified name.
    pub qualified_name: &'a str,
    /// The enclosing definition's index.
    pub parent: Option<u32>,
    /// The commit that last changed its lines.
    pub last_change: Option<Commit<'a>>,
    /// The stable symbol id (see [`crate::symbol_id`]).
    pub symbol_id: u64,
}
