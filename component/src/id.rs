//! Component ids (`type` or `type/name`, as in otelcol) and component kinds.

use std::fmt;

/// `type` or `type/name`, e.g. `otlp` or `wasm/redact`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    /// The component type, which picks the factory.
    pub ty: String,
    /// The instance name after `/`, when there is one.
    pub name: Option<String>,
}

impl ComponentId {
    /// Parses `type` or `type/name`; the type is ASCII letters, digits, `_`, `-`, `.`,
    /// the name anything but whitespace and `/`.
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !ok(ty) {
            return Err(format!("invalid component type {ty:?} in id {s:?}"));
        }
        if let Some(n) = name
            && (n.is_empty() || n.chars().any(|c| c.is_whitespace() || c == '/'))
        {
            return Err(format!("invalid component name {n:?} in id {s:?}"));
        }
        Ok(ComponentId {
            ty: ty.to_string(),
            name: name.map(str::to_string),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.ty, n),
            None => f.write_str(&self.ty),
        }
    }
}

/// The four kinds of component a configuration declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Takes data in (`receivers:`).
    Receiver,
    /// Transforms data in a pipeline (`processors:`).
    Processor,
    /// Sends data out (`exporters:`).
    Exporter,
    /// Runs beside the pipelines (`extensions:`).
    Extension,
}

impl Kind {
    /// Every kind, in the order configurations and `tracemend components` list them.
    pub const ALL: [Kind; 4] = [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Extension,
    ];

    /// The singular noun, e.g. `receiver`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
        }
    }

    /// `a` or `an`, for messages.
    pub fn article(self) -> &'static str {
        match self {
            Kind::Extension | Kind::Exporter => "an",
            _ => "a",
        }
    }

    /// The top-level YAML section, e.g. `receivers`.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print_back() {
        for s in ["otlp", "wasm/redact", "otlp/a.b-c_d"] {
            let id = ComponentId::parse(s).expect(s);
            assert_eq!(id.to_string(), s);
        }
        let id = ComponentId::parse("wasm/redact").expect("parses");
        assert_eq!(id.ty, "wasm");
        assert_eq!(id.name.as_deref(), Some("redact"));
    }

    #[test]
    fn bad_ids_are_refused_with_the_part_named() {
        assert_eq!(
            ComponentId::parse("").expect_err("refused"),
            r#"invalid component type "" in id """#
        );
        assert_eq!(
            ComponentId::parse("ot lp").expect_err("refused"),
            r#"invalid component type "ot lp" in id "ot lp""#
        );
        assert_eq!(
            ComponentId::parse("otlp/").expect_err("refused"),
            r#"invalid component name "" in id "otlp/""#
        );
        assert_eq!(
            ComponentId::parse("otlp/a b").expect_err("refused"),
            r#"invalid component name "a b" in id "otlp/a b""#
        );
    }
}
