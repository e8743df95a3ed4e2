//! The byte layout: magic, version, section ids and record sizes. `docs/symbols.md`
//! describes the same layout for readers in other languages; change both together.
//!
//! All integers are little-endian. A string is a `(offset: u32, len: u32)` pair into
//! the STRINGS arena. "None" in an index field is `u32::MAX`.

/// The first eight bytes of every index file.
pub const MAGIC: [u8; 8] = *b"TMSYMIDX";
/// The format version written and read. A reader rejects other versions; sections it
/// does not know are skipped, so adding a section does not need a new version.
pub const VERSION: u32 = 1;
/// Header: magic (8), version u32, section count u32, file length u64.
pub const HEADER_LEN: usize = 24;
/// A section table entry: id u32, offset u32, byte length u32, record count u32.
pub const SECTION_ENTRY_LEN: usize = 16;
/// "No value" in an index field.
pub const NONE: u32 = u32::MAX;

/// Section ids and their record sizes.
pub mod section {
    /// UTF-8 bytes, referred to by (offset, len) pairs; record size 1.
    pub const STRINGS: u32 = 1;
    /// One record: indexed commit (str), commit time (i64 seconds), generator (str).
    pub const META: u32 = 2;
    /// Files sorted by path bytes.
    pub const FILES: u32 = 3;
    /// Definitions sorted by (file, start line, end line descending).
    pub const DEFS: u32 = 4;
    /// Edges sorted by source definition.
    pub const EDGES: u32 = 5;
    /// Commits (change overlay), in no particular order.
    pub const COMMITS: u32 = 6;
    /// Owner strings; a file's owners are a contiguous run.
    pub const OWNERS: u32 = 7;
    /// u32 definition indexes sorted by qualified name.
    pub const DEFS_BY_QNAME: u32 = 8;
    /// u32 definition indexes sorted by short name.
    pub const DEFS_BY_NAME: u32 = 9;
    /// u32 edge indexes sorted by target name.
    pub const EDGES_BY_TARGET: u32 = 10;
}

/// META record: commit str (8), commit time i64 (8), generator str (8).
pub const META_LEN: usize = 24;
/// FILES record: path str (8), language u8 + 3 pad (4), owners start u32, owners
/// count u32, definitions start u32, definitions count u32.
pub const FILE_LEN: usize = 28;
/// DEFS record: file u32, start line u32, end line u32, kind u8 + 3 pad, name str (8),
/// qualified name str (8), parent u32, last-change commit u32, symbol id u64.
pub const DEF_LEN: usize = 48;
/// EDGES record: source definition u32, kind u8 + 3 pad, target str (8), line u32.
pub const EDGE_LEN: usize = 20;
/// COMMITS record: sha str (8), author str (8), author time i64 (8).
pub const COMMIT_LEN: usize = 24;
/// OWNERS record: owner str (8).
pub const OWNER_LEN: usize = 8;
/// Sort-index record: u32.
pub const INDEX_LEN: usize = 4;

/// Reads a u32 at `at` in a record the caller has already bounds-checked to its size.
pub(crate) fn le_u32(rec: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = rec.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

/// Reads a u64 at `at`, as [`le_u32`].
pub(crate) fn le_u64(rec: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = rec.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}
