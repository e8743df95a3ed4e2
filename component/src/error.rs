//! Configuration errors: each names the source file, the YAML path, the line when known,
//! and what was expected. Components report them with a path relative to themselves;
//! the collector prefixes the component's path and fills in source and line.

use std::fmt;

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config source the path was found in (a file path, `env:VAR`, `yaml:...`, `--set`).
    pub source: Option<String>,
    /// Dotted YAML path, e.g. `receivers.otlp.protocols.grpc.endpoint`.
    pub path: String,
    /// The 1-based line in `source`, when known.
    pub line: Option<usize>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ConfigError {
    /// An error at `path` (dotted YAML keys), not yet located in a source.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            source: None,
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.line) {
            (Some(src), Some(line)) => write!(f, "{src}:{line}: ")?,
            (Some(src), None) => write!(f, "{src}: ")?,
            _ => {}
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

// Not derived: thiserror would take the `source` field for the error's cause.
impl std::error::Error for ConfigError {}

/// Every problem found, reported together so one run shows them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "invalid configuration ({n} error{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_prints_source_line_path_and_message() {
        let mut e = ConfigError::new("exporters.otlp.endpoint", "is required");
        assert_eq!(e.to_string(), "exporters.otlp.endpoint: is required");
        e.source = Some("a.yaml".into());
        assert_eq!(
            e.to_string(),
            "a.yaml: exporters.otlp.endpoint: is required"
        );
        e.line = Some(4);
        assert_eq!(
            e.to_string(),
            "a.yaml:4: exporters.otlp.endpoint: is required"
        );
        assert_eq!(ConfigError::new("", "empty").to_string(), "empty");
    }

    #[test]
    fn every_error_is_listed_under_a_count() {
        let one = ConfigErrors::from(ConfigError::new("a", "x"));
        assert_eq!(
            one.to_string(),
            "invalid configuration (1 error):\n  a: x\n"
        );
        let two = ConfigErrors(vec![ConfigError::new("a", "x"), ConfigError::new("b", "y")]);
        assert_eq!(
            two.to_string(),
            "invalid configuration (2 errors):\n  a: x\n  b: y\n"
        );
    }
}
