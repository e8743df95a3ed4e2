//! Reads an index in place: [`Index::parse`] checks the header and the section
//! bounds once; every later access checks the record it reads, so a corrupt file
//! gives a [`FormatError`], never a panic or a read outside the slice.

use std::cmp::Ordering;

use crate::error::FormatError;
use crate::layout::{self, NONE, le_u32, le_u64, section};
use crate::model::{DefKind, Language};
use crate::records::{Commit, Definition, File};

type Result<T> = std::result::Result<T, FormatError>;

/// A section's place in the file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Section {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) count: usize,
}

/// An index file borrowed as bytes.
#[derive(Clone, Copy)]
pub struct Index<'a> {
    bytes: &'a [u8],
    strings: Section,
    meta: Section,
    files: Section,
    defs: Section,
    pub(crate) edges: Section,
    commits: Section,
    owners: Section,
    defs_by_qname: Section,
    defs_by_name: Section,
    pub(crate) edges_by_target: Section,
}

impl std::fmt::Debug for Index<'_> {
    // The counts, not the bytes: an index is megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("bytes", &self.bytes.len())
            .field("files", &self.files.count)
            .field("definitions", &self.defs.count)
            .field("edges", &self.edges.count)
            .field("commits", &self.commits.count)
            .finish()
    }
}

impl<'a> Index<'a> {
    /// Checks the header and section table of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < layout::HEADER_LEN {
            return Err(FormatError::TooShort { len: bytes.len() });
        }
        if bytes[..8] != layout::MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = le_u32(bytes, 8);
        if version != layout::VERSION {
            return Err(FormatError::UnsupportedVersion { version });
        }
        let count = le_u32(bytes, 12) as usize;
        let header_len = le_u64(bytes, 16);
        if header_len != bytes.len() as u64 {
            return Err(FormatError::LengthMismatch {
                header: header_len,
                actual: bytes.len(),
            });
        }
        let table_end = count
            .checked_mul(layout::SECTION_ENTRY_LEN)
            .and_then(|n| n.checked_add(layout::HEADER_LEN))
            .filter(|&end| end <= bytes.len())
            .ok_or(FormatError::BadSection {
                id: 0,
                reason: "section table runs past the end of the file",
            })?;
        let mut found: [Option<Section>; 11] = [None; 11];
        for entry in bytes[layout::HEADER_LEN..table_end].chunks_exact(layout::SECTION_ENTRY_LEN) {
            let id = le_u32(entry, 0);
            let s = Section {
                offset: le_u32(entry, 4) as usize,
                len: le_u32(entry, 8) as usize,
                count: le_u32(entry, 12) as usize,
            };
            let bad = |reason| FormatError::BadSection { id, reason };
            if s.offset < table_end || s.offset.checked_add(s.len).is_none_or(|e| e > bytes.len()) {
                return Err(bad("lies outside the file"));
            }
            let Some(record) = record_len(id) else {
                continue; // a section of a later minor revision: skipped
            };
            if s.count.checked_mul(record) != Some(s.len) {
                return Err(bad("length is not its record count times the record size"));
            }
            let slot = &mut found[id as usize];
            if slot.is_some() {
                return Err(bad("appears twice"));
            }
            *slot = Some(s);
        }
        let need = |id: u32, name| found[id as usize].ok_or(FormatError::MissingSection { name });
        let index = Index {
            bytes,
            strings: need(section::STRINGS, "STRINGS")?,
            meta: need(section::META, "META")?,
            files: need(section::FILES, "FILES")?,
            defs: need(section::DEFS, "DEFS")?,
            edges: need(section::EDGES, "EDGES")?,
            commits: need(section::COMMITS, "COMMITS")?,
            owners: need(section::OWNERS, "OWNERS")?,
            defs_by_qname: need(section::DEFS_BY_QNAME, "DEFS_BY_QNAME")?,
            defs_by_name: need(section::DEFS_BY_NAME, "DEFS_BY_NAME")?,
            edges_by_target: need(section::EDGES_BY_TARGET, "EDGES_BY_TARGET")?,
        };
        if index.meta.count != 1 {
            return Err(FormatError::BadSection {
                id: section::META,
                reason: "must hold exactly one record",
            });
        }
        if index.defs_by_qname.count != index.defs.count
            || index.defs_by_name.count != index.defs.count
            || index.edges_by_target.count != index.edges.count
        {
            return Err(FormatError::BadSection {
                id: section::DEFS_BY_QNAME,
                reason: "a sort index's length differs from its table's",
            });
        }
        Ok(index)
    }

    /// The record `i` of `s`.
    fn record(&self, s: Section, size: usize, i: usize, table: &'static str) -> Result<&'a [u8]> {
        let oob = FormatError::OutOfBounds {
            table,
            index: i as u64,
        };
        if i >= s.count {
            return Err(oob);
        }
        let start = s.offset + i * size;
        self.bytes.get(start..start + size).ok_or(oob)
    }

    /// The raw bytes of the string whose (offset, len) pair is at `at` in `rec`.
    fn str_bytes(&self, rec: &[u8], at: usize) -> Result<&'a [u8]> {
        let off = le_u32(rec, at);
        let len = le_u32(rec, at + 4) as usize;
        let oob = FormatError::OutOfBounds {
            table: "STRINGS",
            index: u64::from(off),
        };
        let end = (off as usize).checked_add(len).ok_or(oob.clone())?;
        if end > self.strings.len {
            return Err(oob);
        }
        let start = self.strings.offset + off as usize;
        self.bytes.get(start..start + len).ok_or(oob)
    }

    fn str_at(&self, rec: &[u8], at: usize) -> Result<&'a str> {
        let b = self.str_bytes(rec, at)?;
        std::str::from_utf8(b).map_err(|_| FormatError::InvalidUtf8 {
            offset: le_u32(rec, at),
        })
    }

    /// The indexed commit's sha.
    pub fn commit(&self) -> Result<&'a str> {
        let rec = self.record(self.meta, layout::META_LEN, 0, "META")?;
        self.str_at(rec, 0)
    }

    /// The indexed commit's committer time, seconds since the Unix epoch.
    pub fn commit_time(&self) -> Result<i64> {
        let rec = self.record(self.meta, layout::META_LEN, 0, "META")?;
        Ok(le_u64(rec, 8) as i64)
    }

    /// The tool that wrote the index.
    pub fn generator(&self) -> Result<&'a str> {
        let rec = self.record(self.meta, layout::META_LEN, 0, "META")?;
        self.str_at(rec, 16)
    }

    /// Number of files.
    pub fn file_count(&self) -> usize {
        self.files.count
    }

    /// Number of definitions.
    pub fn definition_count(&self) -> usize {
        self.defs.count
    }

    /// Number of call and import edges.
    pub fn edge_count(&self) -> usize {
        self.edges.count
    }

    /// Number of commits in the change overlay.
    pub fn commit_count(&self) -> usize {
        self.commits.count
    }

    /// Bytes of the string arena.
    pub fn string_bytes(&self) -> usize {
        self.strings.len
    }

    /// The file at position `i` of the files table (sorted by path).
    pub fn file_at(&self, i: u32) -> Result<File<'a>> {
        let rec = self.record(self.files, layout::FILE_LEN, i as usize, "FILES")?;
        let code = rec[8];
        Ok(File {
            index: i,
            path: self.str_at(rec, 0)?,
            language: Language::from_code(code).ok_or(FormatError::BadValue {
                field: "file language",
                value: u64::from(code),
            })?,
            owners_start: le_u32(rec, 12),
            owners_count: le_u32(rec, 16),
            defs_start: le_u32(rec, 20),
            defs_count: le_u32(rec, 24),
        })
    }

    /// The file with this exact path (relative to the repository root), if indexed:
    /// a binary search over the files table.
    pub fn file(&self, path: &str) -> Result<Option<File<'a>>> {
        let (lo, hi) = self.equal_range(self.files.count, path.as_bytes(), |i| {
            let rec = self.record(self.files, layout::FILE_LEN, i, "FILES")?;
            self.str_bytes(rec, 0)
        })?;
        if lo == hi {
            return Ok(None);
        }
        self.file_at(lo as u32).map(Some)
    }

    /// Whether `path` is a file of the repository at the indexed commit (the stack
    /// parsers' in-app test).
    pub fn contains_file(&self, path: &str) -> Result<bool> {
        Ok(self.file(path)?.is_some())
    }

    /// The owners of `path` from CODEOWNERS; `None` if the file is not indexed, an
    /// empty list if no rule owns it.
    pub fn owners(&self, path: &str) -> Result<Option<Vec<&'a str>>> {
        let Some(f) = self.file(path)? else {
            return Ok(None);
        };
        self.file_owners(&f).map(Some)
    }

    /// The owners of an indexed file.
    pub fn file_owners(&self, f: &File<'a>) -> Result<Vec<&'a str>> {
        let range = run(f.owners_start, f.owners_count, self.owners.count, "OWNERS")?;
        let mut out = Vec::with_capacity(range.len());
        for i in range {
            let rec = self.record(self.owners, layout::OWNER_LEN, i, "OWNERS")?;
            out.push(self.str_at(rec, 0)?);
        }
        Ok(out)
    }

    /// The definitions of an indexed file, in layout order.
    pub fn file_definitions(&self, f: &File<'a>) -> Result<Vec<Definition<'a>>> {
        run(f.defs_start, f.defs_count, self.defs.count, "DEFS")?
            .map(|i| self.definition(i as u32))
            .collect()
    }

    /// The definition at position `i` of the definitions table.
    pub fn definition(&self, i: u32) -> Result<Definition<'a>> {
        let rec = self.record(self.defs, layout::DEF_LEN, i as usize, "DEFS")?;
        let file = self.file_at(le_u32(rec, 0))?;
        let kind_code = rec[12];
        let parent = le_u32(rec, 32);
        let commit = le_u32(rec, 36);
        let last_change = if commit == NONE {
            None
        } else {
            Some(self.commit_at(commit)?)
        };
        Ok(Definition {
            index: i,
            path: file.path,
            language: file.language,
            start_line: le_u32(rec, 4),
            end_line: le_u32(rec, 8),
            kind: DefKind::from_code(kind_code).ok_or(FormatError::BadValue {
                field: "definition kind",
                value: u64::from(kind_code),
            })?,
            name: self.str_at(rec, 16)?,
            qualified_name: self.str_at(rec, 24)?,
            parent: (parent != NONE).then_some(parent),
            last_change,
            symbol_id: le_u64(rec, 40),
        })
    }

    /// The commit at position `i` of the commits table.
    pub fn commit_at(&self, i: u32) -> Result<Commit<'a>> {
        let rec = self.record(self.commits, layout::COMMIT_LEN, i as usize, "COMMITS")?;
        Ok(Commit {
            sha: self.str_at(rec, 0)?,
            author: self.str_at(rec, 8)?,
            time: le_u64(rec, 16) as i64,
        })
    }

    /// Start and end line of definition `i`, without decoding the rest.
    fn def_lines(&self, i: usize) -> Result<(u32, u32, u32)> {
        let rec = self.record(self.defs, layout::DEF_LEN, i, "DEFS")?;
        Ok((le_u32(rec, 4), le_u32(rec, 8), le_u32(rec, 32)))
    }

    /// The innermost definition whose lines hold `line` in `path`: the file's
    /// module definition when no function or class does; `None` if the file is not
    /// indexed or the line is past its end. Two binary searches and a walk up the
    /// enclosing definitions.
    pub fn definition_at(&self, path: &str, line: u32) -> Result<Option<Definition<'a>>> {
        let Some(f) = self.file(path)? else {
            return Ok(None);
        };
        let range = run(f.defs_start, f.defs_count, self.defs.count, "DEFS")?;
        let (start, end) = (range.start, range.end);
        // Last definition of the file starting at or before `line`.
        let mut lo = start;
        let mut hi = end;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.def_lines(mid)?.0 <= line {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == start {
            return Ok(None);
        }
        let mut cur = lo - 1;
        // Definitions nest, so the innermost one holding `line` is this one or one
        // of its ancestors; a chain longer than the file's table is corrupt.
        for _ in 0..=f.defs_count {
            let (s, e, parent) = self.def_lines(cur)?;
            if s <= line && line <= e {
                return self.definition(cur as u32).map(Some);
            }
            if parent == NONE {
                return Ok(None);
            }
            if (parent as usize) < start || parent as usize >= cur {
                return Err(FormatError::BadValue {
                    field: "definition parent",
                    value: u64::from(parent),
                });
            }
            cur = parent as usize;
        }
        Err(FormatError::BadValue {
            field: "definition parent chain",
            value: cur as u64,
        })
    }

    /// The definitions with this qualified name (several when a name is defined
    /// twice, e.g. in two files of one Go package or in both branches of an `if`).
    pub fn definitions_by_qualified_name(&self, qname: &str) -> Result<Vec<Definition<'a>>> {
        self.by_sorted_index(self.defs_by_qname, qname, 24)
    }

    /// The definitions with this short name (`save`), in any file.
    pub fn definitions_by_name(&self, name: &str) -> Result<Vec<Definition<'a>>> {
        self.by_sorted_index(self.defs_by_name, name, 16)
    }

    fn by_sorted_index(&self, idx: Section, key: &str, at: usize) -> Result<Vec<Definition<'a>>> {
        let (lo, hi) = self.equal_range(idx.count, key.as_bytes(), |i| {
            let d = self.sorted_entry(idx, i, "DEFS_BY_NAME")?;
            let rec = self.record(self.defs, layout::DEF_LEN, d as usize, "DEFS")?;
            self.str_bytes(rec, at)
        })?;
        (lo..hi)
            .map(|i| self.definition(self.sorted_entry(idx, i, "DEFS_BY_NAME")?))
            .collect()
    }

    /// Entry `i` of a sort index.
    pub(crate) fn sorted_entry(&self, idx: Section, i: usize, table: &'static str) -> Result<u32> {
        Ok(le_u32(self.record(idx, layout::INDEX_LEN, i, table)?, 0))
    }

    /// The edge record `i`: (source definition, kind code, line) and its target bytes.
    pub(crate) fn edge_raw(&self, i: usize) -> Result<(u32, u8, u32, &'a [u8])> {
        let rec = self.record(self.edges, layout::EDGE_LEN, i, "EDGES")?;
        Ok((
            le_u32(rec, 0),
            rec[4],
            le_u32(rec, 16),
            self.str_bytes(rec, 8)?,
        ))
    }

    /// The edge target string of record `i`.
    pub(crate) fn edge_target(&self, i: usize) -> Result<&'a str> {
        let rec = self.record(self.edges, layout::EDGE_LEN, i, "EDGES")?;
        self.str_at(rec, 8)
    }

    /// `[lo, hi)` of the entries `0..n` whose key equals `key`, the keys being sorted.
    pub(crate) fn equal_range(
        &self,
        n: usize,
        key: &[u8],
        get: impl Fn(usize) -> Result<&'a [u8]>,
    ) -> Result<(usize, usize)> {
        let lo = partition(n, |i| Ok(get(i)?.cmp(key) == Ordering::Less))?;
        let hi = partition(n, |i| Ok(get(i)?.cmp(key) != Ordering::Greater))?;
        Ok((lo, hi.max(lo)))
    }
}

/// The records `start..start + count` of a table of `total` records, checked.
fn run(
    start: u32,
    count: u32,
    total: usize,
    table: &'static str,
) -> Result<std::ops::Range<usize>> {
    let start = start as usize;
    match start.checked_add(count as usize) {
        Some(end) if end <= total => Ok(start..end),
        _ => Err(FormatError::OutOfBounds {
            table,
            index: start as u64,
        }),
    }
}

/// The first `i` in `0..n` for which `pred` is false (`pred` true then false).
pub(crate) fn partition(n: usize, pred: impl Fn(usize) -> Result<bool>) -> Result<usize> {
    let mut lo = 0;
    let mut hi = n;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid)? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The record size of a known section, `None` for ids this reader does not know.
fn record_len(id: u32) -> Option<usize> {
    Some(match id {
        section::STRINGS => 1,
        section::META => layout::META_LEN,
        section::FILES => layout::FILE_LEN,
        section::DEFS => layout::DEF_LEN,
        section::EDGES => layout::EDGE_LEN,
        section::COMMITS => layout::COMMIT_LEN,
        section::OWNERS => layout::OWNER_LEN,
        section::DEFS_BY_QNAME | section::DEFS_BY_NAME | section::EDGES_BY_TARGET => {
            layout::INDEX_LEN
        }
        _ => return None,
    })
}
