//! The page templates, compiled into the binary and rendered with minijinja. The
//! templates end in `.html`, which turns on HTML auto-escaping for every value they
//! print: envelope text is always shown as text. No template marks a value `safe`
//! (a unit test holds them to it).

use std::sync::OnceLock;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "incidents.html",
        include_str!("../../templates/incidents.html"),
    ),
    (
        "incident.html",
        include_str!("../../templates/incident.html"),
    ),
    (
        "overview.html",
        include_str!("../../templates/overview.html"),
    ),
    ("chart.html", include_str!("../../templates/chart.html")),
];

fn environment() -> Result<&'static Environment<'static>, minijinja::Error> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A misspelt variable is an error when printed or iterated, not an empty string.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // Milliseconds in words: `{{ check.duration_ms|duration }}`.
        env.add_filter("duration", |ms: i64| super::text::duration(ms));
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.clone()))
}

/// Renders template `name` with `ctx`.
pub fn render(name: &str, ctx: impl Serialize) -> Result<String, minijinja::Error> {
    environment()?.get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    #[test]
    fn every_template_compiles_and_none_turns_escaping_off() {
        for (name, source) in TEMPLATES {
            assert!(
                !source.contains("|safe") && !source.contains("| safe"),
                "{name} marks a value safe"
            );
            assert!(
                !source.contains("autoescape"),
                "{name} changes auto-escaping"
            );
            assert!(
                !source.contains("style="),
                "{name} has an inline style (the CSP refuses it)"
            );
            assert!(!source.contains("<script"), "{name} has a script");
        }
        environment().expect("templates compile");
    }

    #[test]
    fn printed_values_are_escaped() {
        let html = render(
            "error.html",
            context! { status => 400, reason => "Bad Request", message => "<script>alert(1)</script>\"'&" },
        )
        .expect("render");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(html.contains("&quot;&#x27;&amp;"), "{html}");
    }
}
