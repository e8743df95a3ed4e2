//! CORS for OTLP/HTTP (`protocols.http.cors`), so browsers may send telemetry: a
//! preflight `OPTIONS` from an allowed origin is answered with the allowed method and
//! headers, and answers to allowed origins carry `Access-Control-Allow-Origin`. Rules as
//! in otelcol (which uses rs/cors): origins may hold one `*` wildcard, `*` alone allows
//! any origin; `Origin`, `Accept`, `Content-Type` and `X-Requested-With` are always
//! allowed headers; credentials are allowed.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::config::ConfigError;

/// `protocols.http.cors`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to send, e.g. `https://*.example.com`. Empty turns CORS off.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Request headers allowed beyond the defaults; `*` allows any.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer. Default: not sent.
    #[serde(default)]
    pub max_age: Option<u64>,
}

/// Headers rs/cors always allows.
const DEFAULT_HEADERS: [&str; 4] = ["origin", "accept", "content-type", "x-requested-with"];
/// OTLP/HTTP has one method.
const METHODS: &str = "POST";

impl CorsConfig {
    /// Problems with the values, at paths under `path`.
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, o) in self.allowed_origins.iter().enumerate() {
            if o != "*" && o.matches('*').count() > 1 {
                errors.push(ConfigError::new(
                    format!("{path}.allowed_origins[{i}]"),
                    format!("{o:?} has more than one `*`; one wildcard per origin is allowed"),
                ));
            }
        }
        for (i, h) in self.allowed_headers.iter().enumerate() {
            if h != "*" && HeaderName::from_bytes(h.as_bytes()).is_err() {
                errors.push(ConfigError::new(
                    format!("{path}.allowed_headers[{i}]"),
                    format!("{h:?} is not a valid header name"),
                ));
            }
        }
        errors
    }

    /// Whether CORS is on (some origin is allowed).
    pub fn enabled(&self) -> bool {
        !self.allowed_origins.is_empty()
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.allowed_origins.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.split_once('*') {
                None => pattern == origin,
                Some((prefix, suffix)) => {
                    origin.len() >= prefix.len() + suffix.len()
                        && origin.starts_with(prefix)
                        && origin.ends_with(suffix)
                }
            }
        })
    }

    fn header_allowed(&self, name: &str) -> bool {
        let name = name.trim().to_ascii_lowercase();
        DEFAULT_HEADERS.contains(&name.as_str())
            || self
                .allowed_headers
                .iter()
                .any(|h| h == "*" || h.eq_ignore_ascii_case(&name))
    }

    /// The answer to a preflight: `None` when the origin, method or a requested header
    /// is not allowed (the browser then blocks the request).
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        requested_headers: &str,
    ) -> Option<HeaderMap> {
        if !self.origin_allowed(origin) || !method.trim().eq_ignore_ascii_case(METHODS) {
            return None;
        }
        let requested: Vec<&str> = requested_headers
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if !requested.iter().all(|h| self.header_allowed(h)) {
            return None;
        }
        let mut h = self.allow_origin(origin)?;
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        if !requested.is_empty()
            && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(age) = self.max_age {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        Some(h)
    }

    /// The headers added to the answer of a request from `origin`, when it is allowed.
    pub fn allow_origin(&self, origin: &str) -> Option<HeaderMap> {
        if !self.origin_allowed(origin) {
            return None;
        }
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_str(origin).ok()?,
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        Some(h)
    }
}

/// The middleware: answers preflights itself, adds the origin headers to other answers.
pub async fn layer(
    State(cors): State<std::sync::Arc<CorsConfig>>,
    req: Request,
    next: Next,
) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let requested_method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok());
    if req.method() == Method::OPTIONS
        && let Some(method) = requested_method
    {
        let requested_headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let headers = cors
            .preflight(&origin, method, requested_headers)
            .unwrap_or_default();
        return (StatusCode::NO_CONTENT, headers).into_response();
    }
    let mut resp = next.run(req).await;
    if let Some(h) = cors.allow_origin(&origin) {
        resp.headers_mut().extend(h);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(yaml: &str) -> CorsConfig {
        serde_yaml::from_str(yaml).expect("parses")
    }

    #[test]
    fn origins_match_exactly_or_by_one_wildcard() {
        let c = cors(
            "allowed_origins: [\"http://*\", \"https://app.example.com\", \"https://*.example.org\"]",
        );
        assert!(c.origin_allowed("http://localhost:3000"));
        assert!(c.origin_allowed("https://app.example.com"));
        assert!(c.origin_allowed("HTTPS://App.Example.com"));
        assert!(!c.origin_allowed("https://other.example.com"));
        assert!(c.origin_allowed("https://a.b.example.org"));
        assert!(!c.origin_allowed("https://example.org"));
        assert!(cors("allowed_origins: [\"*\"]").origin_allowed("https://x"));
    }

    #[test]
    fn a_preflight_names_method_headers_and_max_age() {
        let c = cors(
            "allowed_origins: [\"https://a.test\"]\nallowed_headers: [x-tenant]\nmax_age: 7200",
        );
        let h = c
            .preflight("https://a.test", "POST", "content-type, X-Tenant")
            .expect("allowed");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.test");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "POST");
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type, X-Tenant"
        );
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "7200");
        assert!(c.preflight("https://a.test", "POST", "x-other").is_none());
        assert!(c.preflight("https://a.test", "DELETE", "").is_none());
        assert!(c.preflight("https://b.test", "POST", "").is_none());
        assert!(
            cors("allowed_origins: [\"*\"]\nallowed_headers: [\"*\"]")
                .preflight("https://b.test", "POST", "x-anything")
                .is_some()
        );
    }

    #[test]
    fn bad_patterns_are_errors_with_paths() {
        let e = cors("allowed_origins: [\"https://*.*.test\"]\nallowed_headers: [\"bad header\"]")
            .validate("cors");
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["cors.allowed_origins[0]", "cors.allowed_headers[0]"]
        );
    }
}
