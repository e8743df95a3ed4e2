//! The per-commit symbol index file format, read in place by guests and the
//! repair engine.
