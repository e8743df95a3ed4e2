//! Builds an index: the tree at a commit from git, each source file parsed, the
//! change overlay from blame, owners from CODEOWNERS, laid out by `symbols`.

use std::collections::HashMap;
use std::path::PathBuf;

use symbols::{CommitInfo, FileInput, IndexWriter, Language};
use tracing::{info, warn};

use crate::codeowners::{self, CodeOwners};
use crate::extract::{self, Extracted, Parsers};
use crate::git::{BlameCommit, Blob, GitError, Repo};
use crate::naming::RepoNames;

/// CODEOWNERS and manifests larger than this are ignored. Bytes.
const MAX_META_BYTES: u64 = 4 * 1024 * 1024;

/// What to index.
#[derive(Debug, Clone)]
pub struct Options {
    /// A path inside the repository.
    pub repo: PathBuf,
    /// The revision to index; `HEAD` when `None`.
    pub commit: Option<String>,
    /// Whether to compute the change overlay (`git blame` per file, most of the time).
    pub blame: bool,
    /// Files larger than this are kept with their module definition only (bundles and
    /// generated code). Bytes.
    pub max_file_bytes: u64,
    /// Concurrent `git blame` processes.
    pub jobs: usize,
}

/// What was indexed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The indexed commit.
    pub commit: String,
    /// Source files in the index.
    pub files: usize,
    /// Of those, files kept with their module definition only (syntax errors, not
    /// UTF-8, too large).
    pub unparsed: usize,
    /// Bytes of source read.
    pub source_bytes: u64,
    /// Lines of source read.
    pub source_lines: u64,
    /// Definitions, module definitions included.
    pub definitions: usize,
    /// Call and import edges.
    pub edges: usize,
    /// The CODEOWNERS file used, if any.
    pub codeowners: Option<String>,
    /// Files whose blame failed (their definitions have no last change).
    pub blame_failures: usize,
}

/// A failure that stops the build.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Reading from git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The index could not be laid out.
    #[error("laying out the index: {0}")]
    Layout(#[from] symbols::BuildError),
}

/// Builds the index bytes for `opts`.
pub fn build(opts: &Options) -> Result<(Vec<u8>, Report), IndexError> {
    let repo = Repo::open(&opts.repo, opts.commit.as_deref())?;
    let tree = repo.files()?;
    let sources: Vec<_> = tree
        .iter()
        .filter_map(|f| Language::from_path(&f.path).map(|l| (f, l)))
        .collect();
    let manifests: Vec<_> = tree
        .iter()
        .filter(|f| RepoNames::is_manifest(&f.path))
        .collect();
    let owners_file = codeowners::LOCATIONS
        .iter()
        .find_map(|loc| tree.iter().find(|f| f.path == *loc));

    // Manifests and CODEOWNERS first: the names of the sources depend on them.
    let mut meta_oids: Vec<&str> = manifests.iter().map(|f| f.oid.as_str()).collect();
    meta_oids.extend(owners_file.map(|f| f.oid.as_str()));
    let mut meta_texts = vec![String::new(); meta_oids.len()];
    repo.read_blobs(&meta_oids, MAX_META_BYTES, |i, blob| {
        if let Blob::Data(d) = blob {
            meta_texts[i] = String::from_utf8_lossy(&d).into_owned();
        }
    })?;
    let mut names = RepoNames::default();
    for (m, text) in manifests.iter().zip(&meta_texts) {
        names.add_manifest(&m.path, text);
    }
    let mut report = Report {
        commit: repo.commit.clone(),
        ..Report::default()
    };
    let owners = match owners_file {
        Some(f) => {
            let text = meta_texts.last().map_or("", String::as_str);
            let (co, skipped) = CodeOwners::parse(text);
            for s in skipped {
                warn!(file = %f.path, line = s.line, reason = s.reason, "Skipped a CODEOWNERS line.");
            }
            report.codeowners = Some(f.path.clone());
            co
        }
        None => CodeOwners::default(),
    };

    let mut parsers = Parsers::default();
    let mut parsed: Vec<(String, Language, Extracted)> = Vec::with_capacity(sources.len());
    let oids: Vec<&str> = sources.iter().map(|(f, _)| f.oid.as_str()).collect();
    repo.read_blobs(&oids, opts.max_file_bytes, |i, blob| {
        let (file, language) = sources[i];
        let (result, lines) = match &blob {
            Blob::Data(src) => {
                report.source_bytes += src.len() as u64;
                let lines = extract::line_count(src);
                let result = extract::extract(&mut parsers, language, &file.path, src, &names)
                    .map_err(|e| e.to_string());
                (result, lines)
            }
            Blob::Large { size, lines } => {
                report.source_bytes += size;
                (
                    Err(format!("larger than {} bytes", opts.max_file_bytes)),
                    *lines,
                )
            }
        };
        report.source_lines += u64::from(lines);
        let extracted = result.unwrap_or_else(|reason| {
            warn!(file = %file.path, %reason, "Indexed the file without its definitions.");
            report.unparsed += 1;
            extract::module_only(language, &file.path, lines, &names)
        });
        parsed.push((file.path.clone(), language, extracted));
    })?;

    let mut writer = IndexWriter::new(
        &repo.commit,
        repo.commit_time,
        concat!("tracemend-symbols ", env!("CARGO_PKG_VERSION")),
    );
    if opts.blame {
        let blames = blame_all(&repo, &parsed, opts.jobs.max(1));
        let mut commit_ids: HashMap<String, usize> = HashMap::new();
        for ((path, _, extracted), blame) in parsed.iter_mut().zip(blames) {
            let lines = match blame {
                Ok(lines) => lines,
                Err(e) => {
                    warn!(file = %path, error = %e, "No change overlay for the file.");
                    report.blame_failures += 1;
                    continue;
                }
            };
            let ids: Vec<usize> = lines
                .iter()
                .map(|c| {
                    *commit_ids.entry(c.sha.clone()).or_insert_with(|| {
                        writer.add_commit(CommitInfo {
                            sha: c.sha.clone(),
                            author: c.author.clone(),
                            time: c.time,
                        })
                    })
                })
                .collect();
            for def in &mut extracted.definitions {
                let lo = (def.start_line as usize).saturating_sub(1);
                let hi = (def.end_line as usize).min(lines.len());
                // The newest commit over the definition's lines.
                def.last_change = (lo..hi).max_by_key(|&i| lines[i].time).map(|i| ids[i]);
            }
        }
    }
    for (path, language, extracted) in parsed {
        report.files += 1;
        report.definitions += extracted.definitions.len();
        report.edges += extracted.edges.len();
        writer.add_file(FileInput {
            owners: owners.owners(&path).to_vec(),
            path,
            language,
            definitions: extracted.definitions,
            edges: extracted.edges,
        });
    }
    let bytes = writer.finish()?;
    info!(
        commit = %report.commit,
        files = report.files,
        unparsed = report.unparsed,
        definitions = report.definitions,
        edges = report.edges,
        bytes = bytes.len(),
        "Built the symbol index."
    );
    Ok((bytes, report))
}

/// Blame of every file, `jobs` git processes at a time, in the files' order.
fn blame_all(
    repo: &Repo,
    files: &[(String, Language, Extracted)],
    jobs: usize,
) -> Vec<Result<Vec<BlameCommit>, GitError>> {
    let chunk = files.len().div_ceil(jobs).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let handle = s.spawn(move || {
                    part.iter()
                        .map(|(p, _, _)| repo.blame(p))
                        .collect::<Vec<_>>()
                });
                (part.len(), handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..n)
                        .map(|_| {
                            Err(GitError::Output {
                                args: "blame".into(),
                                detail: "a blame worker panicked".into(),
                            })
                        })
                        .collect()
                })
            })
            .collect()
    })
}
