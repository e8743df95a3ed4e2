//! Errors of reading and writing index files (hand-written: the crate has no
//! dependencies so that guests can build it for wasm32).

use std::fmt;

/// A file that is not a valid index, or a record in it that points outside its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Fewer bytes than the header.
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// The first eight bytes are not the index magic.
    BadMagic,
    /// A format version this reader does not know.
    UnsupportedVersion {
        /// The version in the header.
        version: u32,
    },
    /// The header's file length differs from the bytes given (a truncated or padded file).
    LengthMismatch {
        /// Length the header records.
        header: u64,
        /// Bytes present.
        actual: usize,
    },
    /// A section lies outside the file, or its length is not a whole number of records.
    BadSection {
        /// Section id.
        id: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required section is absent.
    MissingSection {
        /// The section's name.
        name: &'static str,
    },
    /// A record refers to something outside its table or the string arena.
    OutOfBounds {
        /// The table or arena.
        table: &'static str,
        /// The index or offset referred to.
        index: u64,
    },
    /// A string in the arena is not UTF-8.
    InvalidUtf8 {
        /// Its offset in the arena.
        offset: u32,
    },
    /// A field holds a value outside its range (an unknown language or kind code, a
    /// parent chain that does not end).
    BadValue {
        /// The field.
        field: &'static str,
        /// The value.
        value: u64,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::TooShort { len } => {
                write!(
                    f,
                    "index file too short: {len} bytes, the header alone is 24"
                )
            }
            FormatError::BadMagic => write!(f, "not a symbol index file (bad magic)"),
            FormatError::UnsupportedVersion { version } => write!(
                f,
                "unsupported symbol index version {version} (this reader reads version {})",
                crate::layout::VERSION
            ),
            FormatError::LengthMismatch { header, actual } => write!(
                f,
                "index file is {actual} bytes but its header says {header} (truncated or padded)"
            ),
            FormatError::BadSection { id, reason } => {
                write!(f, "index section {id} is corrupt: {reason}")
            }
            FormatError::MissingSection { name } => {
                write!(f, "index file has no {name} section")
            }
            FormatError::OutOfBounds { table, index } => {
                write!(
                    f,
                    "index record refers to {table} entry {index}, which does not exist"
                )
            }
            FormatError::InvalidUtf8 { offset } => {
                write!(f, "index string at arena offset {offset} is not UTF-8")
            }
            FormatError::BadValue { field, value } => {
                write!(f, "index field {field} holds an invalid value {value}")
            }
        }
    }
}

impl std::error::Error for FormatError {}

/// Input the writer cannot lay out as an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Two files with the same path.
    DuplicatePath {
        /// The path.
        path: String,
    },
    /// A definition whose line range is empty, starts at line 0, or lies outside its parent.
    BadRange {
        /// The file.
        path: String,
        /// The definition's qualified name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A parent, edge source or commit index that does not exist.
    BadReference {
        /// The file.
        path: String,
        /// What the reference is.
        what: &'static str,
        /// The index given.
        index: usize,
    },
    /// The index would exceed the format's 4 GiB (u32 offsets).
    TooLarge,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::DuplicatePath { path } => write!(f, "file {path} added twice"),
            BuildError::BadRange { path, name, reason } => {
                write!(f, "definition {name} in {path}: {reason}")
            }
            BuildError::BadReference { path, what, index } => {
                write!(f, "in {path}: {what} {index} does not exist")
            }
            BuildError::TooLarge => write!(f, "index larger than 4 GiB (the format's limit)"),
        }
    }
}

impl std::error::Error for BuildError {}
