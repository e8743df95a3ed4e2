//! Credentials: private key blocks, JWTs, passwords in URLs,
//! `Authorization` schemes and vendor tokens. Each is found by its regex
//! alone once its keyword gates it in, except private keys (to the END
//! line) and Basic credentials (decoded and checked for a `user:pass`).

use super::{
    AWS_AK, AWS_SK, BASIC, BEARER, Detectors, GITHUB, GITLAB, GOOGLE, JWT, Match, PRIVATE_KEY,
    SLACK, STRIPE, URL_PASSWORD, VENDOR, spans,
};
use crate::validate;

/// The credential rules' patterns; group 1, when present, is the part
/// redacted.
pub(super) const PATTERNS: &[(usize, &str)] = &[
    (
        PRIVATE_KEY,
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
    ),
    (
        JWT,
        r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
    ),
    (
        URL_PASSWORD,
        r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@]+:([^\s/@]+)@",
    ),
    (
        BEARER,
        r"(?i)\bbearer(?:\s|\+|%20)+([A-Za-z0-9\-._~+/]{8,}=*)",
    ),
    (BASIC, r"(?i)\bbasic(?:\s|\+|%20)+([A-Za-z0-9+/]{8,}={0,2})"),
    (
        AWS_AK,
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}\b",
    ),
    (
        AWS_SK,
        r#"(?i)(?:aws|secret)[a-z0-9_.\-]{0,30}["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    (
        GITHUB,
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    ),
    (
        GITLAB,
        r"\bgl(?:pat|dt|ptt|rt|cbt|imt|soat|ft|oas)-[A-Za-z0-9_\-]{20,}",
    ),
    (
        SLACK,
        r"\bxox[abposre]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+",
    ),
    (
        STRIPE,
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,99}\b|\bwhsec_[A-Za-z0-9]{24,}\b",
    ),
    (
        GOOGLE,
        r"\bAIza[0-9A-Za-z_\-]{35}|\bya29\.[0-9A-Za-z_\-]{20,}|\bGOCSPX-[0-9A-Za-z_\-]{20,}",
    ),
    // Secret types of gitleaks' default config, by their documented
    // prefixes and lengths: OpenAI, Anthropic, npm, PyPI, SendGrid,
    // Shopify, DigitalOcean, Vault, Hugging Face, Databricks, Linear,
    // Postman, Grafana, Doppler, Pulumi, RubyGems.
    (
        VENDOR,
        r"\b(?:sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,}|npm_[A-Za-z0-9]{36}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|do[opr]_v1_[a-f0-9]{64}|hv[sb]\.[A-Za-z0-9_\-]{90,}|hf_[A-Za-z]{34}|dapi[a-f0-9]{32}(?:-\d)?|lin_api_[A-Za-z0-9]{40}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}|pul-[a-f0-9]{40}|rubygems_[a-f0-9]{48})",
    ),
];

/// The END line of a private key block.
pub(super) const PRIVATE_KEY_END_PATTERN: &str = r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----";

impl Detectors {
    #[inline(never)]
    pub(super) fn private_keys(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[PRIVATE_KEY] else {
            return;
        };
        let mut from = 0;
        while let Some(b) = re.find_at(text, from) {
            // A block without its END line (truncated logs) is redacted to
            // the end of the string: the key material follows the header.
            let end = self
                .private_end
                .find_at(text, b.end())
                .map_or(text.len(), |e| e.end());
            out.push(Match {
                start: b.start(),
                end,
                rule: PRIVATE_KEY,
            });
            from = end;
        }
    }

    /// `Basic <base64>` whose decoded text holds a `:` (`user:pass`).
    /// Inlined into [`Detectors::find`], where it was written.
    #[inline(always)]
    pub(super) fn basic_auth(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[BASIC] else {
            return;
        };
        for (start, end) in spans(re, text) {
            if validate::base64_decode(&text[start..end]).is_some_and(|d| d.contains(&b':')) {
                out.push(Match {
                    start,
                    end,
                    rule: BASIC,
                });
            }
        }
    }
}
