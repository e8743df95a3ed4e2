//! Lays out an index file from the definitions, edges, owners and commits of a tree.
//! The writer sorts everything; callers add files in any order.

use std::collections::HashMap;

use crate::error::BuildError;
use crate::id::symbol_id;
use crate::layout::{self, NONE, section};
use crate::model::{DefKind, EdgeKind, Language};

/// A commit of the change overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// Full hex sha.
    pub sha: String,
    /// Author name and mail as git prints them (`Name <mail>`).
    pub author: String,
    /// Author time, seconds since the Unix epoch.
    pub time: i64,
}

/// A definition of one file, before layout.
#[derive(Debug, Clone)]
pub struct DefinitionInput {
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
    /// What it is.
    pub kind: DefKind,
    /// Its own name (`save`).
    pub name: String,
    /// Its qualified name (`app.models.User.save`).
    pub qualified_name: String,
    /// The enclosing definition, an index into the same file's `definitions`.
    pub parent: Option<usize>,
    /// The commit that last changed its lines, an index as returned by
    /// [`IndexWriter::add_commit`].
    pub last_change: Option<usize>,
}

/// A call or import edge of one file, before layout.
#[derive(Debug, Clone)]
pub struct EdgeInput {
    /// The definition it occurs in, an index into the same file's `definitions`.
    pub from: usize,
    /// Call or import.
    pub kind: EdgeKind,
    /// The called name or the imported module.
    pub target: String,
    /// The line it occurs on, 1-based.
    pub line: u32,
}

/// One source file, before layout.
#[derive(Debug, Clone)]
pub struct FileInput {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// Its language.
    pub language: Language,
    /// Its owners from CODEOWNERS, in the order written.
    pub owners: Vec<String>,
    /// Its definitions, in any order.
    pub definitions: Vec<DefinitionInput>,
    /// Its edges, in any order.
    pub edges: Vec<EdgeInput>,
}

/// Collects a tree's files and commits and writes the index bytes.
#[derive(Debug)]
pub struct IndexWriter {
    commit: String,
    commit_time: i64,
    generator: String,
    commits: Vec<CommitInfo>,
    files: Vec<FileInput>,
}

/// Interns strings into the arena.
#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    seen: HashMap<String, (u32, u32)>,
}

impl Arena {
    fn add(&mut self, s: &str) -> Result<(u32, u32), BuildError> {
        if let Some(&r) = self.seen.get(s) {
            return Ok(r);
        }
        let off = u32::try_from(self.bytes.len()).map_err(|_| BuildError::TooLarge)?;
        let len = u32::try_from(s.len()).map_err(|_| BuildError::TooLarge)?;
        self.bytes.extend_from_slice(s.as_bytes());
        self.seen.insert(s.to_owned(), (off, len));
        Ok((off, len))
    }

    fn put(&mut self, out: &mut Vec<u8>, s: &str) -> Result<(), BuildError> {
        let (off, len) = self.add(s)?;
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        Ok(())
    }
}

fn to_u32(n: usize) -> Result<u32, BuildError> {
    u32::try_from(n).map_err(|_| BuildError::TooLarge)
}

/// A definition placed in the global table.
struct PlacedDef {
    file: u32,
    language: Language,
    path_idx: usize,
    input: DefinitionInput,
    parent: u32,
}

impl IndexWriter {
    /// A writer for the tree at `commit` (its committer time in seconds), recording
    /// `generator` (tool name and version) in the header section.
    pub fn new(commit: &str, commit_time: i64, generator: &str) -> Self {
        IndexWriter {
            commit: commit.to_owned(),
            commit_time,
            generator: generator.to_owned(),
            commits: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Adds a commit of the change overlay; returns its index for
    /// [`DefinitionInput::last_change`].
    pub fn add_commit(&mut self, commit: CommitInfo) -> usize {
        self.commits.push(commit);
        self.commits.len() - 1
    }

    /// Adds a file.
    pub fn add_file(&mut self, file: FileInput) {
        self.files.push(file);
    }

    /// Checks the input and lays out the index.
    pub fn finish(mut self) -> Result<Vec<u8>, BuildError> {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        for w in self.files.windows(2) {
            if w[0].path == w[1].path {
                return Err(BuildError::DuplicatePath {
                    path: w[0].path.clone(),
                });
            }
        }
        let mut arena = Arena::default();
        let mut files_out = Vec::new();
        let mut owners_out = Vec::new();
        let mut owner_count = 0usize;
        let mut defs: Vec<PlacedDef> = Vec::new();
        // (global source definition, input edge)
        let mut edges: Vec<(u32, EdgeInput)> = Vec::new();

        for (file_idx, file) in self.files.iter().enumerate() {
            let order = self.order_definitions(file)?;
            let base = defs.len();
            let mut new_of_old = vec![0usize; file.definitions.len()];
            for (new, &old) in order.iter().enumerate() {
                new_of_old[old] = new;
            }
            for &old in &order {
                let d = &file.definitions[old];
                let parent = match d.parent {
                    Some(p) => to_u32(base + new_of_old[p])?,
                    None => NONE,
                };
                defs.push(PlacedDef {
                    file: to_u32(file_idx)?,
                    language: file.language,
                    path_idx: file_idx,
                    input: d.clone(),
                    parent,
                });
            }
            for e in &file.edges {
                let Some(&local) = new_of_old.get(e.from) else {
                    return Err(BuildError::BadReference {
                        path: file.path.clone(),
                        what: "edge source definition",
                        index: e.from,
                    });
                };
                edges.push((to_u32(base + local)?, e.clone()));
            }
            arena.put(&mut files_out, &file.path)?;
            files_out.extend_from_slice(&[file.language.code(), 0, 0, 0]);
            files_out.extend_from_slice(&to_u32(owner_count)?.to_le_bytes());
            files_out.extend_from_slice(&to_u32(file.owners.len())?.to_le_bytes());
            files_out.extend_from_slice(&to_u32(base)?.to_le_bytes());
            files_out.extend_from_slice(&to_u32(order.len())?.to_le_bytes());
            for o in &file.owners {
                arena.put(&mut owners_out, o)?;
            }
            owner_count += file.owners.len();
        }

        let mut defs_out = Vec::with_capacity(defs.len() * layout::DEF_LEN);
        for d in &defs {
            let path = &self.files[d.path_idx].path;
            let commit = match d.input.last_change {
                Some(c) if c < self.commits.len() => to_u32(c)?,
                Some(c) => {
                    return Err(BuildError::BadReference {
                        path: path.clone(),
                        what: "commit",
                        index: c,
                    });
                }
                None => NONE,
            };
            defs_out.extend_from_slice(&d.file.to_le_bytes());
            defs_out.extend_from_slice(&d.input.start_line.to_le_bytes());
            defs_out.extend_from_slice(&d.input.end_line.to_le_bytes());
            defs_out.extend_from_slice(&[d.input.kind.code(), 0, 0, 0]);
            arena.put(&mut defs_out, &d.input.name)?;
            arena.put(&mut defs_out, &d.input.qualified_name)?;
            defs_out.extend_from_slice(&d.parent.to_le_bytes());
            defs_out.extend_from_slice(&commit.to_le_bytes());
            let id = symbol_id(d.language, path, &d.input.qualified_name);
            defs_out.extend_from_slice(&id.to_le_bytes());
        }

        edges.sort_by(|a, b| (a.0, a.1.line, &a.1.target).cmp(&(b.0, b.1.line, &b.1.target)));
        let mut edges_out = Vec::with_capacity(edges.len() * layout::EDGE_LEN);
        for (from, e) in &edges {
            edges_out.extend_from_slice(&from.to_le_bytes());
            edges_out.extend_from_slice(&[e.kind.code(), 0, 0, 0]);
            arena.put(&mut edges_out, &e.target)?;
            edges_out.extend_from_slice(&e.line.to_le_bytes());
        }

        let mut commits_out = Vec::with_capacity(self.commits.len() * layout::COMMIT_LEN);
        for c in &self.commits {
            arena.put(&mut commits_out, &c.sha)?;
            arena.put(&mut commits_out, &c.author)?;
            commits_out.extend_from_slice(&c.time.to_le_bytes());
        }

        let mut meta_out = Vec::with_capacity(layout::META_LEN);
        arena.put(&mut meta_out, &self.commit)?;
        meta_out.extend_from_slice(&self.commit_time.to_le_bytes());
        arena.put(&mut meta_out, &self.generator)?;

        let by_qname = sorted_ids(defs.len(), |i| defs[i].input.qualified_name.as_str())?;
        let by_name = sorted_ids(defs.len(), |i| defs[i].input.name.as_str())?;
        let by_target = sorted_ids(edges.len(), |i| edges[i].1.target.as_str())?;

        let sections: Vec<(u32, Vec<u8>, usize)> = vec![
            (section::META, meta_out, 1),
            (section::FILES, files_out, self.files.len()),
            (section::DEFS, defs_out, defs.len()),
            (section::EDGES, edges_out, edges.len()),
            (section::COMMITS, commits_out, self.commits.len()),
            (section::OWNERS, owners_out, owner_count),
            (section::DEFS_BY_QNAME, by_qname, defs.len()),
            (section::DEFS_BY_NAME, by_name, defs.len()),
            (section::EDGES_BY_TARGET, by_target, edges.len()),
            (section::STRINGS, arena.bytes.clone(), arena.bytes.len()),
        ];
        assemble(&sections)
    }

    /// The file's definitions in layout order (start ascending, end descending,
    /// parents before children), after checking ranges and parent references.
    fn order_definitions(&self, file: &FileInput) -> Result<Vec<usize>, BuildError> {
        let n = file.definitions.len();
        let bad_range = |d: &DefinitionInput, reason| BuildError::BadRange {
            path: file.path.clone(),
            name: d.qualified_name.clone(),
            reason,
        };
        let mut depth = vec![0usize; n];
        for (i, d) in file.definitions.iter().enumerate() {
            if d.start_line == 0 || d.end_line < d.start_line {
                return Err(bad_range(d, "line range is empty or starts at line 0"));
            }
            // Walk up to the root; a chain longer than the table is a cycle.
            let mut cur = d.parent;
            let mut steps = 0;
            while let Some(p) = cur {
                let Some(pd) = file.definitions.get(p) else {
                    return Err(BuildError::BadReference {
                        path: file.path.clone(),
                        what: "parent definition",
                        index: p,
                    });
                };
                steps += 1;
                if steps > n {
                    return Err(bad_range(d, "parent chain is a cycle"));
                }
                cur = pd.parent;
            }
            depth[i] = steps;
            if let Some(p) = d.parent {
                let pd = &file.definitions[p];
                if pd.start_line > d.start_line || pd.end_line < d.end_line {
                    return Err(bad_range(d, "lies outside its parent's lines"));
                }
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| {
            let d = &file.definitions[i];
            (d.start_line, std::cmp::Reverse(d.end_line), depth[i], i)
        });
        Ok(order)
    }
}

/// `0..n` as little-endian u32s, sorted by `key` (ties by index).
fn sorted_ids<'k>(n: usize, key: impl Fn(usize) -> &'k str) -> Result<Vec<u8>, BuildError> {
    let mut ids: Vec<usize> = (0..n).collect();
    ids.sort_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
    let mut out = Vec::with_capacity(n * layout::INDEX_LEN);
    for i in ids {
        out.extend_from_slice(&to_u32(i)?.to_le_bytes());
    }
    Ok(out)
}

/// Header, section table and the sections, each starting at a multiple of 8.
fn assemble(sections: &[(u32, Vec<u8>, usize)]) -> Result<Vec<u8>, BuildError> {
    let table_end = layout::HEADER_LEN + sections.len() * layout::SECTION_ENTRY_LEN;
    let mut offset = table_end.next_multiple_of(8);
    let mut table = Vec::with_capacity(sections.len() * layout::SECTION_ENTRY_LEN);
    for (id, bytes, count) in sections {
        table.extend_from_slice(&id.to_le_bytes());
        table.extend_from_slice(&to_u32(offset)?.to_le_bytes());
        table.extend_from_slice(&to_u32(bytes.len())?.to_le_bytes());
        table.extend_from_slice(&to_u32(*count)?.to_le_bytes());
        offset = (offset + bytes.len()).next_multiple_of(8);
    }
    let total = offset;
    to_u32(total)?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&layout::MAGIC);
    out.extend_from_slice(&layout::VERSION.to_le_bytes());
    out.extend_from_slice(&to_u32(sections.len())?.to_le_bytes());
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&table);
    for (_, bytes, _) in sections {
        out.resize(out.len().next_multiple_of(8), 0);
        out.extend_from_slice(bytes);
    }
    out.resize(total, 0);
    Ok(out)
}
