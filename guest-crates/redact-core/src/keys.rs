//! Rules by attribute key, and the allow-list of keys never touched.
//!
//! Keys are compared as words, not substrings: `gen_ai.usage.input_tokens`
//! is `[gen, ai, usage, input, tokens]`, which does not contain the word
//! `token`, while `http.request.header.x-auth-token` does. A match followed by
//! a word like `count`, `type` or `expires` (`llm.token_count`,
//! `token_type`) describes the secret rather than holding it, and is skipped.

/// The built-in sensitive key patterns (rule `sensitive_key`).
pub const DEFAULT_SENSITIVE: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "api key",
    "apikey",
    "access key",
    "secret key",
    "private key",
    "authorization",
    "cookie",
    "set cookie",
    "credential",
    "credentials",
    "credit card",
    "card number",
    "cvv",
    "cvc",
    "ssn",
    "social security",
    "email",
    "bearer",
    "signature",
    "session key",
    "imei",
];

/// Words that, right after a sensitive word or at the end of the key, make
/// the key describe a secret rather than hold it.
const DESCRIPTIVE: &[&str] = &[
    "count",
    "counts",
    "length",
    "len",
    "size",
    "limit",
    "type",
    "kind",
    "expires",
    "expiry",
    "expiration",
    "ttl",
    "usage",
    "enabled",
    "present",
    "name",
    "verified",
    "endpoint",
    "url",
    "uri",
    "issuer",
    "audience",
    "algorithm",
    "alg",
    "scheme",
    "format",
    "policy",
    "source",
];

/// Keys left alone by default: identifiers the pipeline needs, and the
/// shapes (ids, SHAs, versions) that value detectors must not see.
pub const DEFAULT_ALLOW: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "traceid",
    "spanid",
    "trace.id",
    "span.id",
    "trace_flags",
    "http.route",
    "url.template",
    "http.request.method",
    "http.method",
    "http.response.status_code",
    "http.status_code",
    "service.name",
    "service.version",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "telemetry.sdk.*",
    "telemetry.distro.*",
    "otel.*",
    "vcs.sha",
    "vcs.ref.head.revision",
    "vcs.repository.ref.revision",
    "git.commit.sha",
    "git.sha",
    "commit.sha",
    "code.*",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "db.system",
    "db.system.name",
    "db.operation",
    "db.operation.name",
    "messaging.system",
    "gen_ai.usage.*",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "redaction.*",
    "process.runtime.*",
    "os.type",
    "host.arch",
    "cloud.provider",
    "cloud.region",
];

/// One key pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPattern {
    /// A run of words that must appear, in order and adjacent, in the key.
    Words(Vec<String>),
    /// `prefix*` or `*suffix` or `pre*suf` against the whole lowercase key.
    Glob(String, String),
}

impl KeyPattern {
    /// Parses a pattern: with a `*` a glob over the whole key, else words.
    pub fn parse(p: &str) -> Option<Self> {
        let p = p.trim().to_ascii_lowercase();
        if let Some((pre, suf)) = p.split_once('*') {
            if suf.contains('*') {
                return None;
            }
            return Some(KeyPattern::Glob(pre.to_owned(), suf.to_owned()));
        }
        let mut w = Vec::new();
        split_words(&p, &mut w);
        (!w.is_empty()).then_some(KeyPattern::Words(w))
    }

    /// Does `key` (with its `words`) match?
    pub fn matches(&self, key_lower: &str, words: &[String]) -> bool {
        match self {
            KeyPattern::Glob(pre, suf) => {
                key_lower.len() >= pre.len() + suf.len()
                    && key_lower.starts_with(pre.as_str())
                    && key_lower.ends_with(suf.as_str())
            }
            KeyPattern::Words(pat) => {
                if pat.len() > words.len() {
                    return false;
                }
                (0..=words.len() - pat.len()).any(|i| {
                    words[i..i + pat.len()] == pat[..] && {
                        let next = words.get(i + pat.len());
                        let last = words.last();
                        !next.is_some_and(|w| DESCRIPTIVE.contains(&w.as_str()))
                            && !last.is_some_and(|w| DESCRIPTIVE.contains(&w.as_str()))
                    }
                })
            }
        }
    }
}

/// Splits a key into lowercase words at non-alphanumerics and camelCase
/// boundaries (`X-Api-Key` and `xApiKey` both give `[x, api, key]`).
pub fn split_words(key: &str, out: &mut Vec<String>) {
    out.clear();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            cur.push(c.to_ascii_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
}

/// The allow-list: exact keys and `prefix.*` globs, case-insensitive.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl AllowList {
    /// Adds one entry.
    pub fn add(&mut self, k: &str) {
        let k = k.to_ascii_lowercase();
        match k.strip_suffix('*') {
            Some(p) => self.prefixes.push(p.to_owned()),
            None => self.exact.push(k),
        }
    }

    /// Is `key_lower` allowed?
    pub fn allows(&self, key_lower: &str) -> bool {
        self.exact.iter().any(|e| e == key_lower)
            || self
                .prefixes
                .iter()
                .any(|p| key_lower.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(p: &str, key: &str) -> bool {
        let mut w = Vec::new();
        split_words(key, &mut w);
        KeyPattern::parse(p)
            .expect("pattern")
            .matches(&key.to_ascii_lowercase(), &w)
    }

    #[test]
    fn words_not_substrings() {
        assert!(hit("token", "access_token"));
        assert!(hit("token", "http.request.header.x-auth-token"));
        assert!(!hit("token", "gen_ai.usage.input_tokens"));
        assert!(!hit("token", "llm.token_count.prompt"));
        assert!(!hit("token", "token_type"));
        assert!(hit("api key", "X-Api-Key"));
        assert!(hit("api key", "xApiKey"));
        assert!(hit("authorization", "http.request.header.authorization"));
        assert!(hit("set cookie", "http.response.header.set-cookie"));
        assert!(!hit("email", "user.email_verified"));
    }

    #[test]
    fn globs_and_allow_list() {
        assert!(hit("x-internal-*", "x-internal-trace"));
        let mut a = AllowList::default();
        a.add("telemetry.sdk.*");
        a.add("trace_id");
        assert!(a.allows("telemetry.sdk.version"));
        assert!(a.allows("trace_id"));
        assert!(!a.allows("trace_ids"));
    }
}
