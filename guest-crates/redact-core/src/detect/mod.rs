//! Rules by value: detectors that find sensitive text anywhere inside a
//! string. A cheap pass decides which detectors may match (one aho-corasick
//! automaton over every detector's keywords, plus byte counts for the
//! digit- and colon-shaped classes); only those run their ASCII byte regexes
//! and validators.

use std::net::Ipv6Addr;

use aho_corasick::MatchKind;
use aho_corasick::dfa::DFA;
use regex::bytes::{Regex, RegexBuilder};

use crate::keywords::KeywordTable;
use crate::swar::{
    HIGH, LANES, all_in, any_window, digit_bytes, dot_bytes, find_class, find_window, hexish_bytes,
    lanes_eq, lanes_ge, run_bytes, sep_bytes, upper_bytes, word_at, word_before,
};
use crate::validate;

/// Built-in value rules, in priority order: when two matches overlap, the
/// earlier rule here wins.
pub const BUILTIN_VALUE_RULES: &[&str] = &[
    "private_key",
    "jwt",
    "url_password",
    "bearer",
    "basic_auth",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "stripe_key",
    "google_api_key",
    "email",
    "card",
    "iban",
    "ssn",
    "phone",
    "ipv4",
    "ipv6",
    "inline_secret",
    "high_entropy",
];

/// Index of a built-in value rule by name.
pub const fn id(name: &str) -> usize {
    let mut i = 0;
    while i < BUILTIN_VALUE_RULES.len() {
        if eq(BUILTIN_VALUE_RULES[i].as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("unknown built-in rule");
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const PRIVATE_KEY: usize = id("private_key");
const JWT: usize = id("jwt");
const URL_PASSWORD: usize = id("url_password");
const BEARER: usize = id("bearer");
const BASIC: usize = id("basic_auth");
const AWS_AK: usize = id("aws_access_key");
const AWS_SK: usize = id("aws_secret_key");
const GITHUB: usize = id("github_token");
const GITLAB: usize = id("gitlab_token");
const SLACK: usize = id("slack_token");
const STRIPE: usize = id("stripe_key");
const GOOGLE: usize = id("google_api_key");
const EMAIL: usize = id("email");
const CARD: usize = id("card");
const IBAN: usize = id("iban");
const SSN: usize = id("ssn");
const PHONE: usize = id("phone");
const IPV4: usize = id("ipv4");
const IPV6: usize = id("ipv6");
/// `key=value` pairs inside text whose key is sensitive.
pub const INLINE: usize = id("inline_secret");
const ENTROPY: usize = id("high_entropy");

/// Class bits of the byte-at-a-time gating pass ([`gate_bytes`]; [`gate`]
/// computes the same classes with SWAR compares): a digit.
const C_DIGIT: u8 = 1;
/// Continues a plain digit run: digits, space, dash.
const C_PLAIN: u8 = 2;
/// Continues any digit run: those and `.()/+`.
const C_ANY: u8 = 4;
/// Part of a high-entropy candidate run: `[A-Za-z0-9+_/-]`.
const C_RUN: u8 = 8;
/// Counts of `.`, `:`, `+` and `@` in the 16-bit lanes of one `u64`, so
/// the byte-at-a-time gating pass adds one table entry a byte for all four.
#[cfg(test)]
static COUNT: [u64; 256] = {
    let mut t = [0u64; 256];
    t[b'.' as usize] = 1;
    t[b':' as usize] = 1 << 16;
    t[b'+' as usize] = 1 << 32;
    t[b'@' as usize] = 1 << 48;
    t
};

/// The byte class table of the gating pass.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut v = 0;
        if c.is_ascii_digit() {
            v |= C_DIGIT | C_PLAIN | C_ANY;
        }
        if matches!(c, b' ' | b'-') {
            v |= C_PLAIN | C_ANY;
        }
        if matches!(c, b'.' | b'(' | b')' | b'/' | b'+') {
            v |= C_ANY;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'-' | b'/') {
            v |= C_RUN;
        }
        t[b] = v;
        b += 1;
    }
    t
};

/// Keywords that gate each keyword-gated built-in (case-insensitive).
const KEYWORDS: &[(usize, &[&str])] = &[
    (PRIVATE_KEY, &["PRIVATE KEY"]),
    (JWT, &["eyJ"]),
    (URL_PASSWORD, &["://"]),
    (BEARER, &["bearer"]),
    (BASIC, &["basic"]),
    (
        AWS_AK,
        &[
            "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA",
            "ASCA",
        ],
    ),
    (AWS_SK, &["aws", "secret"]),
    (
        GITHUB,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    ),
    (
        GITLAB,
        &[
            "glpat-", "gldt-", "glptt-", "glrt-", "glcbt-", "glimt-", "glsoat-", "glft-", "gloas-",
        ],
    ),
    (
        SLACK,
        &[
            "xoxa-",
            "xoxb-",
            "xoxp-",
            "xoxo-",
            "xoxs-",
            "xoxr-",
            "xoxe-",
            "hooks.slack.com",
        ],
    ),
    (
        STRIPE,
        &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
    ),
    (GOOGLE, &["AIza", "ya29.", "GOCSPX-"]),
    (EMAIL, &["@"]),
];

/// A value rule defined in the config: a regex, optionally gated by
/// keywords.
pub struct CustomDetector {
    /// Rule id.
    pub rule: usize,
    /// The pattern; group 1, when present, is the part redacted.
    pub regex: Regex,
    /// `true` when the rule has keywords (then it runs only on a hit).
    pub gated: bool,
}

/// One finding: bytes `start..end` of the text, by `rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Rule id.
    pub rule: usize,
}

/// Every compiled detector.
pub struct Detectors {
    keywords: KeywordTable,
    /// For each AC pattern, the bit of the rule it gates (bit = rule id).
    ac_rule: Vec<u128>,
    re: Vec<Option<Regex>>,
    private_end: Regex,
    phone_us: Regex,
    phone_national: Regex,
    inline_kv: Regex,
    custom: Vec<CustomDetector>,
    /// Which rules are enabled (bit = rule id).
    pub enabled: u128,
    /// Redact private/loopback addresses too.
    pub private_ips: bool,
    /// Minimum token length for `high_entropy`.
    pub min_entropy_len: usize,
}

fn bytes_re(p: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(p).unicode(false).build()
}

/// Compiles a user pattern the same way as the built-ins (ASCII, bytes).
pub fn compile_user(p: &str) -> Result<Regex, regex::Error> {
    bytes_re(p)
}

impl Detectors {
    /// Compiles the built-ins plus `custom` detectors with their keywords
    /// (`custom_keywords[i]` gates rule `rule`), and the sensitive-key words
    /// that gate `inline_secret`.
    pub fn new(
        custom: Vec<CustomDetector>,
        custom_keywords: &[(usize, Vec<String>)],
        inline_words: &[String],
    ) -> Self {
        let mut pats: Vec<String> = Vec::new();
        let mut ac_rule = Vec::new();
        for (rule, kws) in KEYWORDS {
            for k in *kws {
                pats.push((*k).to_owned());
                ac_rule.push(1u128 << rule);
            }
        }
        for (rule, kws) in custom_keywords {
            for k in kws {
                pats.push(k.clone());
                ac_rule.push(1u128 << rule);
            }
        }
        for w in inline_words {
            pats.push(w.clone());
            ac_rule.push(1u128 << INLINE);
        }
        // A full DFA, copied into the table `KeywordTable::hits` walks. No prefilter: with one-byte and short
        // common keywords (`@`, `key`, `set`) its candidates are everywhere,
        // and restarting it at each one cost more than the plain DFA walk.
        let ac = DFA::builder()
            .ascii_case_insensitive(true)
            .prefilter(false)
            .match_kind(MatchKind::Standard)
            .build(&pats)
            .expect("keyword automaton from bounded literal lists");
        let mut re: Vec<Option<Regex>> = vec![None; BUILTIN_VALUE_RULES.len()];
        let set = |re: &mut Vec<Option<Regex>>, rule: usize, p: &str| {
            re[rule] = Some(bytes_re(p).expect("built-in pattern compiles"));
        };
        set(
            &mut re,
            PRIVATE_KEY,
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
        );
        set(
            &mut re,
            JWT,
            r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
        );
        set(
            &mut re,
            URL_PASSWORD,
            r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@]+:([^\s/@]+)@",
        );
        set(
            &mut re,
            BEARER,
            r"(?i)\bbearer(?:\s|\+|%20)+([A-Za-z0-9\-._~+/]{8,}=*)",
        );
        set(
            &mut re,
            BASIC,
            r"(?i)\bbasic(?:\s|\+|%20)+([A-Za-z0-9+/]{8,}={0,2})",
        );
        set(
            &mut re,
            AWS_AK,
            r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}\b",
        );
        set(
            &mut re,
            AWS_SK,
            r#"(?i)(?:aws|secret)[a-z0-9_.\-]{0,30}["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        );
        set(
            &mut re,
            GITHUB,
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        );
        set(
            &mut re,
            GITLAB,
            r"\bgl(?:pat|dt|ptt|rt|cbt|imt|soat|ft|oas)-[A-Za-z0-9_\-]{20,}",
        );
        set(
            &mut re,
            SLACK,
            r"\bxox[abposre]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+",
        );
        set(
            &mut re,
            STRIPE,
            r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,99}\b|\bwhsec_[A-Za-z0-9]{24,}\b",
        );
        set(
            &mut re,
            GOOGLE,
            r"\bAIza[0-9A-Za-z_\-]{35}|\bya29\.[0-9A-Za-z_\-]{20,}|\bGOCSPX-[0-9A-Za-z_\-]{20,}",
        );
        set(
            &mut re,
            EMAIL,
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
        );
        set(
            &mut re,
            CARD,
            r"\b(?:\d{13,19}|\d{4}[ \-]\d{4}[ \-]\d{4}[ \-]\d{1,4}(?:[ \-]\d{1,3})?|\d{4}[ \-]\d{6}[ \-]\d{4,5})\b",
        );
        set(&mut re, IBAN, r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}");
        set(&mut re, SSN, r"\b\d{3}[ \-]\d{2}[ \-]\d{4}\b");
        set(&mut re, PHONE, r"\+\d[\d .\-()]{5,24}\d");
        Detectors {
            keywords: KeywordTable::new(&ac),
            ac_rule,
            re,
            private_end: bytes_re(r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")
                .expect("built-in pattern compiles"),
            phone_us: bytes_re(r"(?:\(\d{3}\)\s?|\b\d{3}[.\-])\d{3}[.\-]\d{4}\b")
                .expect("built-in pattern compiles"),
            phone_national: bytes_re(r"\b0\d{1,4}(?:[ /.\-]\d{2,8}){1,4}\b")
                .expect("built-in pattern compiles"),
            inline_kv: bytes_re(r#"\b[A-Za-z][A-Za-z0-9_.\-]{0,63}["']?[ \t]*[:=][ \t]*"#)
                .expect("built-in pattern compiles"),
            custom,
            enabled: u128::MAX,
            private_ips: false,
            min_entropy_len: 20,
        }
    }

    /// Finds every enabled rule's matches in `text`. `is_sensitive_key`
    /// decides whether a `key=` inside the text is a sensitive key;
    /// `skip` removes rules for this value (e.g. `ipv4` under a version key).
    pub fn find(
        &self,
        text: &[u8],
        skip: u128,
        is_sensitive_key: &mut dyn FnMut(&str) -> bool,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        let on = self.enabled & !skip;
        // The keyword hits' rules, in a variable of their own: `want`
        // itself then never lives in memory (the walk's callback writes
        // through a pointer), which in the guest had every use of it below
        // compiled twice, once for each home.
        let mut by_keyword: u128 = 0;
        self.keywords.hits(text, |pattern, end| {
            let bit = self.ac_rule[pattern];
            // A sensitive word gates `inline_secret` only when a `key=` or
            // `key:` follows (`/api/v1/` is not `api_key=`).
            if bit != 1 << INLINE || kv_follows(text, end) {
                by_keyword |= bit;
            }
        });
        let mut want = by_keyword;
        // One pass of byte counts gates the shape-based classes. A "digit
        // run" is digits joined by number separators; a letter or any other
        // byte ends it, so hex ids and UUIDs rarely wake the card, phone and
        // IBAN patterns. `plain` runs (space and dash only: cards, SSNs,
        // IBAN groups) and `any` runs (also `.()/+`: phones) are counted
        // apart, so version strings and dotted quads do not look like cards.
        // This pass reads every byte of every scanned string, so it is the
        // engine's floor (eight bytes a step: see `gate`); the rarer shape tests
        // (`XX00`, `d-d`, a leading zero) run after it, only when the counts
        // call for them.
        let cand_len = self.min_entropy_len.saturating_sub(2).max(1);
        let Gate {
            plain,
            any,
            longest,
            dots,
            colons,
            plus,
            at,
        } = if cand_len <= 6 {
            gate::<true>(text)
        } else {
            gate::<false>(text)
        };
        if plain >= 13 {
            want |= 1 << CARD;
        }
        if plain >= 6 && iban_head(text) {
            want |= 1 << IBAN;
        }
        // Without a `+`, the US and national phone patterns need the shapes
        // `phone_shape` looks for (user agents pass the counts on every span).
        if any >= 8 && (plus || any >= 10 || zero_lead(text)) && (plus || phone_shape(text)) {
            want |= 1 << PHONE;
        }
        // `ddd-dd-dddd`: a digit, a separator and a digit in a row.
        if plain >= 9 && digit_sep_digit(text) {
            want |= 1 << SSN;
        }
        if any >= 4 && dots >= 3 {
            want |= 1 << IPV4;
        }
        if colons >= 2 {
            want |= 1 << IPV6;
        }
        if longest >= self.min_entropy_len {
            want |= 1 << ENTROPY;
        }
        // `user:pass@host` needs an `@` somewhere after the `://`.
        if !at {
            want &= !(1 << URL_PASSWORD);
        }
        let want = want & on;
        if want == 0 && self.custom.iter().all(|c| c.gated) {
            return;
        }
        // Rule ids are constants below, but the loop over them is not
        // unrolled at `opt-level = "s"`, and a variable `u128` shift is a
        // compiler-rt call in wasm: test the bit as one of two `u64` halves.
        let has = |r: usize| {
            let half = if r < 64 {
                want as u64
            } else {
                (want >> 64) as u64
            };
            half >> (r % 64) & 1 != 0
        };
        let group = |re: &Regex, rule: usize, out: &mut Vec<Match>| {
            for (start, end) in spans(re, text) {
                out.push(Match { start, end, rule });
            }
        };
        // The rules found by their regex alone, in rule id order (ids below
        // 64): a loop over the set bits, which is mostly none or one, where
        // a loop over all eleven cost an epoch check and a load each in the
        // guest for every string with any rule to run.
        const BY_REGEX: u64 = 1 << JWT
            | 1 << URL_PASSWORD
            | 1 << BEARER
            | 1 << AWS_AK
            | 1 << AWS_SK
            | 1 << GITHUB
            | 1 << GITLAB
            | 1 << SLACK
            | 1 << STRIPE
            | 1 << GOOGLE
            | 1 << EMAIL;
        let mut by_regex = want as u64 & BY_REGEX;
        while by_regex != 0 {
            let rule = by_regex.trailing_zeros() as usize;
            by_regex &= by_regex - 1;
            if let Some(re) = &self.re[rule] {
                group(re, rule, out);
            }
        }
        if has(PRIVATE_KEY) {
            self.private_keys(text, out);
        }
        if has(BASIC)
            && let Some(re) = &self.re[BASIC]
        {
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
        if has(CARD) {
            self.cards(text, out);
        }
        if has(IBAN) {
            self.ibans(text, out);
        }
        if has(SSN) {
            self.ssns(text, out);
        }
        if has(PHONE) {
            self.phones(text, out);
        }
        if has(IPV4) {
            self.ipv4s(text, out);
        }
        if has(IPV6) {
            self.ipv6s(text, out);
        }
        if has(INLINE) {
            self.inline(text, is_sensitive_key, is_token, out);
        }
        if has(ENTROPY) {
            self.entropy(text, is_token, out);
        }
        for c in &self.custom {
            if on & (1 << c.rule) != 0 && (!c.gated || want & (1 << c.rule) != 0) {
                group(&c.regex, c.rule, out);
            }
        }
    }

    #[inline(never)]
    fn private_keys(&self, text: &[u8], out: &mut Vec<Match>) {
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

    #[inline(never)]
    fn cards(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[CARD] else { return };
        for m in re.find_iter(text) {
            let s = m.as_bytes();
            // An optional trailing group may have swallowed a neighbouring
            // number: try the whole candidate, then without its last group.
            let mut end = s.len();
            loop {
                let digits: Vec<u8> = s[..end]
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .collect();
                if validate::card_issuer_ok(&digits)
                    && validate::luhn(&digits)
                    && isolated(text, m.start(), m.start() + end)
                {
                    out.push(Match {
                        start: m.start(),
                        end: m.start() + end,
                        rule: CARD,
                    });
                    break;
                }
                match s[..end].iter().rposition(|b| *b == b' ' || *b == b'-') {
                    Some(p) => end = p,
                    None => break,
                }
            }
        }
    }

    #[inline(never)]
    fn ibans(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[IBAN] else { return };
        for m in re.find_iter(text) {
            let s = m.as_bytes();
            let want = validate::iban_len(&s[..2]);
            // Collect alphanumerics up to the country's length; the greedy
            // pattern may run into following uppercase words ("... 00 EUR").
            let mut compact = Vec::with_capacity(34);
            let mut end = 0;
            let mut found = None;
            for (i, &b) in s.iter().enumerate() {
                if b == b' ' {
                    continue;
                }
                compact.push(b);
                end = i + 1;
                let n = compact.len();
                let ok_len = match want {
                    Some(l) => n == l,
                    None => (15..=34).contains(&n),
                };
                if ok_len && validate::iban_mod97(&compact) {
                    let next = text.get(m.start() + end);
                    if !next.is_some_and(u8::is_ascii_alphanumeric) {
                        found = Some(end);
                    }
                    if want.is_some() {
                        break;
                    }
                }
            }
            let _ = end;
            if let Some(e) = found {
                out.push(Match {
                    start: m.start(),
                    end: m.start() + e,
                    rule: IBAN,
                });
            }
        }
    }

    /// `ddd-dd-dddd` (or with spaces), matched by hand: a regex search
    /// costs more per call than this whole scan.
    #[inline(never)]
    fn ssns(&self, text: &[u8], out: &mut Vec<Match>) {
        let mut i = 0;
        loop {
            // Candidates start at three digits and a separator, found five
            // windows a step (a byte loop was an epoch check a byte in the
            // guest).
            i = find_window(text, i, 4, ssn_head_lanes);
            if i + 11 > text.len() {
                break;
            }
            if ssn_at(text, i) {
                out.push(Match {
                    start: i,
                    end: i + 11,
                    rule: SSN,
                });
                i += 11;
            } else {
                i += 1;
            }
        }
    }

    #[inline(never)]
    fn phones(&self, text: &[u8], out: &mut Vec<Match>) {
        let digit_count = |s: &[u8]| s.iter().filter(|b| b.is_ascii_digit()).count();
        if let Some(re) = self.re[PHONE].as_ref().filter(|_| text.contains(&b'+')) {
            for m in re.find_iter(text) {
                // The next char must not continue a number or a word.
                let mut s = m.as_bytes();
                // Drop trailing groups until at most 15 digits (E.164's limit):
                // the class may have run into a following number.
                while digit_count(s) > 15 {
                    match s
                        .iter()
                        .rposition(|b| matches!(b, b' ' | b'.' | b'-' | b'(' | b')'))
                    {
                        Some(p) => s = s[..p].trim_ascii_end(),
                        None => break,
                    }
                }
                while s.last().is_some_and(|b| !b.is_ascii_digit()) {
                    s = &s[..s.len() - 1];
                }
                let n = digit_count(s);
                let end = m.start() + s.len();
                if (8..=15).contains(&n) && isolated(text, m.start(), end) {
                    out.push(Match {
                        start: m.start(),
                        end,
                        rule: PHONE,
                    });
                }
            }
        }
        for m in self.phone_us.find_iter(text) {
            let s = m.as_bytes();
            let seps: Vec<u8> = s[s.len() - 8..]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_digit())
                .collect();
            // 415-555-2671 or 415.555.2671: both separators the same.
            let same = s[0] == b'(' || s.get(3) == seps.first();
            if same && isolated(text, m.start(), m.end()) {
                out.push(Match {
                    start: m.start(),
                    end: m.end(),
                    rule: PHONE,
                });
            }
        }
        for m in self.phone_national.find_iter(text) {
            let s = m.as_bytes();
            let n = digit_count(s);
            let mixed_seps = {
                let mut seps = s.iter().filter(|b| !b.is_ascii_digit());
                let first = seps.next();
                seps.any(|b| Some(b) != first)
            };
            // Dates (05/12/2023) have 8 digits; a national number has 9–12
            // and one kind of separator.
            // `0416 0929 3007` may be the tail of a longer digit-group run.
            let after_group = m.start() >= 2
                && text[m.start() - 1] == b' '
                && text[m.start() - 2].is_ascii_digit();
            if (9..=12).contains(&n)
                && !mixed_seps
                && !after_group
                && isolated(text, m.start(), m.end())
                && !text.get(m.end()).is_some_and(|b| {
                    *b == b'.' && text.get(m.end() + 1).is_some_and(u8::is_ascii_digit)
                })
            {
                out.push(Match {
                    start: m.start(),
                    end: m.end(),
                    rule: PHONE,
                });
            }
        }
    }

    #[inline(never)]
    fn ipv4s(&self, text: &[u8], out: &mut Vec<Match>) {
        let mut next = 0;
        while let Some(q) = dotted_quad(text, next) {
            let (start, end) = (q.start, q.end);
            next = end;
            // Part of a longer dotted run (1.2.3.4.5, 10.0.0.1.nip.io is fine).
            if start >= 1 && text[start - 1] == b'.'
                || text.get(end) == Some(&b'.') && text.get(end + 1).is_some_and(u8::is_ascii_digit)
            {
                continue;
            }
            if version_context(&text[..start]) {
                continue;
            }
            let o = q.octets;
            if q.leading_zero || o.iter().any(|v| *v > 255) {
                continue;
            }
            if self.private_ips || !validate::ipv4_private(o.map(|v| v as u8)) {
                out.push(Match {
                    start,
                    end,
                    rule: IPV4,
                });
            }
        }
    }

    #[inline(never)]
    fn ipv6s(&self, text: &[u8], out: &mut Vec<Match>) {
        let is_c = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        let mut i = 0;
        while i < text.len() {
            if !is_c(text[i])
                || i > 0 && (text[i - 1].is_ascii_alphanumeric() || text[i - 1] == b':')
            {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && is_c(text[i]) {
                i += 1;
            }
            let mut end = i;
            while end > start && text[end - 1] == b'.' {
                end -= 1;
            }
            if i < text.len() && text[i].is_ascii_alphanumeric() {
                continue;
            }
            let s = &text[start..end];
            let colons = s.iter().filter(|b| **b == b':').count();
            let hex = s.iter().filter(|b| b.is_ascii_hexdigit()).count();
            if colons < 2 || hex < 4 || !s.iter().any(u8::is_ascii_digit) {
                continue;
            }
            let Ok(addr) = std::str::from_utf8(s).unwrap_or("").parse::<Ipv6Addr>() else {
                continue;
            };
            if self.private_ips || !validate::ipv6_private(&addr) {
                out.push(Match {
                    start,
                    end,
                    rule: IPV6,
                });
            }
        }
    }

    #[inline(never)]
    fn inline(
        &self,
        text: &[u8],
        is_sensitive_key: &mut dyn FnMut(&str) -> bool,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        for m in self.inline_kv.find_iter(text) {
            let key_end = m
                .as_bytes()
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
                .unwrap_or(m.len());
            let key = std::str::from_utf8(&m.as_bytes()[..key_end]).unwrap_or("");
            // `http://` and `https://` look like `key:`.
            if text.get(m.end()) == Some(&b'/') || !is_sensitive_key(key) {
                continue;
            }
            let mut start = m.end();
            // Header-like keys hold more than one word: `Authorization:
            // Bearer x`, `Cookie: a=1; b=2`.
            let lower = key.to_ascii_lowercase();
            let end = match text.get(start) {
                _ if lower.contains("authorization") => auth_value_end(text, start),
                _ if lower.contains("cookie") => cookie_value_end(text, start),
                Some(&q @ (b'"' | b'\'')) => {
                    start += 1;
                    let len = text[start..]
                        .iter()
                        .take(512)
                        .position(|b| *b == q)
                        .unwrap_or(0);
                    start + len
                }
                _ => {
                    let len = text[start..]
                        .iter()
                        .take(512)
                        .position(|b| {
                            b.is_ascii_whitespace()
                                || matches!(
                                    b,
                                    b',' | b';'
                                        | b'&'
                                        | b'"'
                                        | b'\''
                                        | b'<'
                                        | b'>'
                                        | b')'
                                        | b']'
                                        | b'}'
                                )
                        })
                        .unwrap_or(text.len() - start);
                    start + len
                }
            };
            if end > start && !is_token(&text[start..end]) {
                out.push(Match {
                    start,
                    end,
                    rule: INLINE,
                });
            }
        }
    }

    #[inline(never)]
    fn entropy(&self, text: &[u8], is_token: &dyn Fn(&[u8]) -> bool, out: &mut Vec<Match>) {
        let min = self.min_entropy_len;
        // A run and up to two `=` of padding are judged from `min` bytes
        // on: shorter runs are passed over.
        let cand = min.saturating_sub(2).max(1);
        // Runs followed eight bytes a step, as in `gate` (one loop step a
        // word however many runs end in it: in the guest each step is also
        // an epoch check); only the rare long run costs a call.
        let mut judge = |start: usize, run_end: usize| {
            let mut end = run_end;
            while end < text.len() && end - run_end < 2 && text[end] == b'=' {
                end += 1;
            }
            // No part of a hex run (ids, UUIDs, digests) is high-entropy
            // (`validate::high_entropy` exempts hex): one word-at-a-time
            // check instead of splitting and judging the parts.
            if end - start >= min && !all_in(&text[start..run_end], hexish_bytes) {
                self.entropy_run(text, start, end, is_token, out);
            }
        };
        // `longest` is `class_runs`' maximum, which this scan does not use.
        let (mut cur, mut longest) = (0usize, 0usize);
        let mut base = 0usize;
        while base < text.len() {
            // Past the end, the zero padding is in no run: the last run
            // ends in place.
            class_runs(
                run_bytes(word_at(text, base)),
                cand <= 6,
                &mut cur,
                &mut longest,
                |start, len| {
                    if len >= cand {
                        let start = base.wrapping_add_signed(start);
                        judge(start, start + len);
                    }
                },
            );
            base += 8;
        }
        // A run still open at a text whose length is a multiple of eight.
        if cur >= cand {
            judge(text.len() - cur, text.len());
        }
    }
}

/// What the gating pass of [`Detectors::find`] counts over one string.
/// `plain`, `any` and `longest` are exact from the smallest value `find`
/// compares them with (6, 4, and 7 or the candidate length) up; below that
/// they may fall short (see [`digit_runs`], [`class_runs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Gate {
    /// Most digits in one run of digits, spaces and dashes.
    plain: usize,
    /// Most digits in one run of digits, spaces, dashes and `.()/+`.
    any: usize,
    /// Longest run of `[A-Za-z0-9+_/-]`.
    longest: usize,
    dots: u64,
    colons: u64,
    /// Whether the text has a `+`, an `@`.
    plus: bool,
    at: bool,
}

/// Digits in the runs of class `m` (lane mask) over one word: `cur` carries
/// the digits of the run still open from the previous word; each run that
/// ends in this word raises `best`. Runs that start and end inside the word
/// (six bytes at most) are followed only when the word holds at least
/// `inner` digits: below that they cannot reach the smallest count `find`
/// tests, so `best` is exact from `inner` up.
#[inline(always)]
fn digit_runs(m: u64, digit: u64, inner: u64, cur: &mut usize, best: &mut usize) {
    // Lane k of `ps`: the digits in lanes 0..=k.
    let ps = (digit >> 7).wrapping_mul(LANES);
    let total = (ps >> 56) as usize;
    let stops = !m & HIGH;
    if stops == 0 {
        *cur += total;
        return;
    }
    // Digits in the lanes before the one whose high bit is `bit`.
    let before = |bit: u32| ((ps << 8) >> (bit - 7) & 0xFF) as usize;
    let first = stops.trailing_zeros();
    *best = (*best).max(*cur + before(first));
    let last = 63 - stops.leading_zeros();
    // The run open at the word's end: the digits after the last stop
    // (a stop is not a digit).
    *cur = total - before(last);
    if (total as u64) < inner {
        return;
    }
    // Digits between the first and the last stop.
    let mut rest = digit & (u64::MAX << first) & ((1u64 << last) - 1);
    while rest != 0 {
        let s = rest.trailing_zeros();
        let e = (stops & (u64::MAX << s)).trailing_zeros();
        *best = (*best).max(before(e) - before(s));
        rest &= u64::MAX << e;
    }
}

/// Runs of class `m` (lane mask) over one word, by length: `cur` carries
/// the run open from the previous word; each run that ends in this word
/// raises `best`, and `ended(start, len)` hears of it (`start` relative to
/// the word: negative for the carried run), first to last. Runs inside the
/// word (six bytes at most) are followed only when `inner`.
#[inline(always)]
fn class_runs(
    m: u64,
    inner: bool,
    cur: &mut usize,
    best: &mut usize,
    mut ended: impl FnMut(isize, usize),
) {
    let stops = !m & HIGH;
    if stops == 0 {
        *cur += 8;
        return;
    }
    let first = stops.trailing_zeros();
    let done = *cur + (first / 8) as usize;
    *best = (*best).max(done);
    ended(-(*cur as isize), done);
    let last = 63 - stops.leading_zeros();
    *cur = (7 - last / 8) as usize;
    if !inner {
        return;
    }
    let mut rest = m & (u64::MAX << first) & ((1u64 << last) - 1);
    while rest != 0 {
        let s = rest.trailing_zeros();
        let e = (stops & (u64::MAX << s)).trailing_zeros();
        let len = ((e - s) / 8) as usize;
        *best = (*best).max(len);
        ended((s / 8) as isize, len);
        rest &= u64::MAX << e;
    }
}

/// The gating pass, eight bytes a step: each byte class is a bit mask of
/// one 64-bit word (SWAR compares on 7-bit lanes; bytes >= 0x80 are in no
/// class), and runs are followed from word to word with bit scans, so the
/// loop takes one back-edge per word (and one per run of digits or
/// run bytes that ends inside it) instead of one per byte. Equal to
/// [`gate_bytes`], the byte-at-a-time pass it replaced (tested).
///
/// Never inlined: wasmtime's register allocator spilled nearly every value
/// of this loop to the stack when it was part of `find` (56 KiB of machine
/// code); on its own the loop's values stay in registers.
#[inline(never)]
fn gate<const INNER: bool>(text: &[u8]) -> Gate {
    let mut g = GateState {
        gate: Gate {
            plain: 0,
            any: 0,
            longest: 0,
            dots: 0,
            colons: 0,
            plus: false,
            at: false,
        },
        dots_colons: 0,
        plus_at: 0,
        cur_plain: 0,
        cur_any: 0,
        run: 0,
    };
    let mut base = 0usize;
    // One word a loop step, the last one zero-padded (padding is in no
    // class: it ends every open run in place), so the step is compiled
    // once. Two words a step plus separate tails (four copies, 13 KiB of
    // the guest's machine code against 4 KiB) ran fewer instructions but
    // more slowly in the guest: its hot code is several times the native
    // code's size, and what the CPU has to fetch and decode counts there.
    while base < text.len() {
        g.word::<INNER>(word_at(text, base));
        base += 8;
    }
    // Runs still open at the end of the text.
    let mut out = g.gate;
    out.dots = g.dots_colons & 0xFFFF_FFFF;
    out.colons = g.dots_colons >> 32;
    out.plus = g.plus_at & HIGH != 0;
    out.at = g.plus_at & (HIGH >> 1) != 0;
    out.plain = out.plain.max(g.cur_plain);
    out.any = out.any.max(g.cur_any);
    out.longest = out.longest.max(g.run);
    out
}

/// [`gate`]'s counters between words.
struct GateState {
    gate: Gate,
    /// Counts of `.` (low half) and `:` (high half): one register in the
    /// loop instead of two, as `plus_at` is one instead of two counts.
    dots_colons: u64,
    /// Lanes that held a `+` (bit 7) or an `@` (bit 6): `find` only asks
    /// whether there is one.
    plus_at: u64,
    cur_plain: usize,
    cur_any: usize,
    run: usize,
}

impl GateState {
    /// One word of text starting at byte `base`. Forced inline into the
    /// loop: as a call per word (LLVM at `opt-level = "s"` did not
    /// inline it) it cost a fifth of the pass in the guest.
    #[inline(always)]
    fn word<const INNER: bool>(&mut self, word: u64) {
        let g = &mut self.gate;
        // Bytes >= 0x80 are in no class: the compares run on the low seven
        // bits, and each class is masked to the ASCII lanes once.
        let ascii = !word & HIGH;
        let t = word & !HIGH;
        let digit = lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1) & ascii;
        let dash = lanes_eq(t, b'-');
        let slash = lanes_eq(t, b'/');
        let plus = lanes_eq(t, b'+');
        let dot = lanes_eq(t, b'.');
        let plain = digit | ((dash | lanes_eq(t, b' ')) & ascii);
        // `(` and `)` differ only in the lowest bit.
        let paren = lanes_eq(t & !LANES, b'(');
        let any = plain | ((dot | slash | plus | paren) & ascii);
        let folded = t | (LANES * 0x20);
        let alpha = lanes_ge(folded, b'a') & !lanes_ge(folded, b'z' + 1);
        let run = digit | ((alpha | plus | dash | slash | lanes_eq(t, b'_')) & ascii);
        // Two counts a multiply: one in the low nibble of each lane, one in
        // the high (eight a word at most, so neither spills over).
        let a = (ascii >> 7) * 0x11;
        let dc = ((dot >> 7 | lanes_eq(t, b':') >> 3) & a).wrapping_mul(LANES) >> 56;
        self.dots_colons += (dc & 0xF) | (dc >> 4) << 32;
        self.plus_at |= (plus & ascii) | (lanes_eq(t, b'@') & ascii) >> 1;
        // A word without digits only ends or extends the digit runs.
        if digit == 0 {
            if plain != HIGH {
                g.plain = g.plain.max(self.cur_plain);
                self.cur_plain = 0;
            }
            if any != HIGH {
                g.any = g.any.max(self.cur_any);
                self.cur_any = 0;
            }
        } else {
            // `find` tests `plain >= 6` and `any >= 4` at the least.
            digit_runs(plain, digit, 6, &mut self.cur_plain, &mut g.plain);
            digit_runs(any, digit, 4, &mut self.cur_any, &mut g.any);
        }
        // A run inside one word is six bytes at most: it matters only to a
        // candidate length that short (`longest` is tested against the
        // entropy minimum, 8 at the least, unless `INNER`).
        class_runs(run, INNER, &mut self.run, &mut g.longest, |_, _| {});
    }
}

/// The byte-at-a-time gating pass [`gate`] replaced, branch-free over the
/// class tables: kept as the oracle of its tests.
#[cfg(test)]
fn gate_bytes(text: &[u8]) -> Gate {
    let (mut plain, mut cur_plain, mut any, mut cur_any) = (0usize, 0usize, 0usize, 0usize);
    let (mut run, mut longest) = (0usize, 0usize);
    let (mut dots, mut colons, mut plus, mut at) = (0u64, 0u64, 0u64, 0u64);
    // 16-bit lanes: a chunk shorter than 2^16 cannot carry between them.
    for chunk in text.chunks(usize::from(u16::MAX)) {
        let mut lanes = 0u64;
        for &b in chunk {
            let c = CLASS[usize::from(b)];
            let digit = usize::from(c & C_DIGIT != 0);
            cur_plain = (cur_plain + digit) * usize::from(c & C_PLAIN != 0);
            cur_any = (cur_any + digit) * usize::from(c & C_ANY != 0);
            plain = plain.max(cur_plain);
            any = any.max(cur_any);
            run = (run + 1) * usize::from(c & C_RUN != 0);
            longest = longest.max(run);
            lanes += COUNT[usize::from(b)];
        }
        dots += lanes & 0xFFFF;
        colons += lanes >> 16 & 0xFFFF;
        plus += lanes >> 32 & 0xFFFF;
        at += lanes >> 48;
    }
    Gate {
        plain,
        any,
        longest,
        dots,
        colons,
        plus: plus > 0,
        at: at > 0,
    }
}

/// Every match of `re`, narrowed to capture group 1 when the pattern has
/// one. The DFA finds the match; captures run only on a hit (the capture
/// engines are many times slower than a DFA search).
fn spans(re: &Regex, text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for m in re.find_iter(text) {
        if re.captures_len() > 1 {
            if let Some(g) = re
                .captures_at(&text[..m.end()], m.start())
                .and_then(|c| c.get(1))
            {
                out.push((g.start(), g.end()));
            }
        } else {
            out.push((m.start(), m.end()));
        }
    }
    out
}

/// A dotted quad found by [`dotted_quad`]: where it is and its four
/// groups' values (each one to three digits, so at most 999).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quad {
    start: usize,
    end: usize,
    octets: [u32; 4],
    /// A group of two or three digits starts with `0` (`010`): not how an
    /// address is written.
    leading_zero: bool,
}

/// The first dotted quad at or after `from`, exactly as the regex
/// `\b(?:\d{1,3}\.){3}\d{1,3}\b` (ASCII word boundaries) finds it, by
/// hand: the regex engine's per-search setup cost more than this scan on the
/// short strings it mostly sees (peer addresses, user agents).
fn dotted_quad(text: &[u8], from: usize) -> Option<Quad> {
    // A match's first group is one to three digits and a dot, and `\b`
    // falls at no byte inside a run of digits, so a match starts where the
    // digit run just before a dot starts: one start to try a dot (dots
    // found eight bytes a step), in increasing order, so the first hit is
    // the leftmost match, as the regex's.
    let mut dot = from;
    loop {
        dot = find_class(text, dot, dot_bytes);
        if dot == text.len() {
            return None;
        }
        // The digit run before the dot, from the eight bytes before it read
        // as one word (no byte loop backwards).
        let run = (!digit_bytes(word_before(text, dot)) & HIGH).leading_zeros() as usize / 8;
        if (1..=3).contains(&run)
            && dot - run >= from
            && let Some(q) = quad_at(text, dot - run)
        {
            return Some(q);
        }
        dot += 1;
    }
}

/// The dotted quad starting at `i`, if one does.
#[inline(always)]
fn quad_at(text: &[u8], i: usize) -> Option<Quad> {
    // A match starts on a digit after a non-word byte (`\b`); each group
    // is a whole run of one to three digits.
    if !text[i].is_ascii_digit() || i > 0 && is_word(text[i - 1]) {
        return None;
    }
    // Each group is read as one word: its leading digits (at most three
    // count), their value and the byte after them, with no loop over the
    // bytes.
    let group = |j: usize, dot: bool| -> Option<(usize, u32, bool)> {
        let w = word_at(text, j);
        let digits = ((!digit_bytes(w) & HIGH).trailing_zeros() / 8).min(3);
        let next = (w >> (8 * digits)) as u8;
        if digits == 0 || dot && next != b'.' {
            return None;
        }
        // The digits' values, right-aligned in the low three bytes: the
        // missing leading ones are zero.
        let v = (w & 0x0f_0f0f & ((1u64 << (8 * digits)) - 1)) << (8 * (3 - digits));
        let value = (v & 0xff) * 100 + (v >> 8 & 0xff) * 10 + (v >> 16 & 0xff);
        let zero = digits > 1 && w as u8 == b'0';
        Some((j + digits as usize + usize::from(dot), value as u32, zero))
    };
    let (j, a, za) = group(i, true)?;
    let (j, b, zb) = group(j, true)?;
    let (j, c, zc) = group(j, true)?;
    let (j, d, zd) = group(j, false)?;
    (!text.get(j).is_some_and(|b| is_word(*b))).then_some(Quad {
        start: i,
        end: j,
        octets: [a, b, c, d],
        leading_zero: za | zb | zc | zd,
    })
}

/// `\w` in ASCII: the bytes a `\b` boundary separates from the rest.
#[inline(always)]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A byte that joins a phone number to its neighbour, so that `phones`
/// rejects the match ([`isolated`]).
#[inline(always)]
fn is_glue(b: u8) -> bool {
    is_word(b) || b == b'-'
}

/// `XX00` (an IBAN's country code and check digits) anywhere in `text`,
/// five windows a step.
#[inline(never)]
fn iban_head(text: &[u8]) -> bool {
    any_window(text, 4, |w| {
        let (u, d) = (upper_bytes(w), digit_bytes(w));
        u & u >> 8 & d >> 16 & d >> 24
    })
}

/// A digit, a number separator (` -./`) and a digit in a row, six windows
/// a step.
#[inline(never)]
fn digit_sep_digit(text: &[u8]) -> bool {
    any_window(text, 3, digit_sep_digit_lanes)
}

/// The lanes of `w` where a digit, a number separator (` -./`) and a digit
/// in a row start.
#[inline(always)]
fn digit_sep_digit_lanes(w: u64) -> u64 {
    let t = w & !HIGH;
    // `-./` are 0x2d to 0x2f, just below the digits: three range bounds
    // give both classes.
    let (dash_up, digit_up) = (lanes_ge(t, b'-'), lanes_ge(t, b'0'));
    let ascii = !w & HIGH;
    let sep = (dash_up & !digit_up | lanes_eq(t, b' ')) & ascii;
    let d = digit_up & !lanes_ge(t, b'9' + 1) & ascii;
    d & sep >> 8 & d >> 16
}

/// Is `text[i..i + 11]` a US SSN (`ddd-dd-dddd` or with spaces, the same
/// separator twice, a valid area, group and serial), not glued to a digit or
/// word? `i + 11 <= text.len()`.
fn ssn_at(text: &[u8], i: usize) -> bool {
    let d = |i: usize| text[i].is_ascii_digit();
    let num = |b: &[u8]| b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let sep = text[i + 3];
    d(i) && d(i + 1)
        && d(i + 2)
        && (sep == b'-' || sep == b' ')
        && text[i + 6] == sep
        && d(i + 4)
        && d(i + 5)
        && (i + 7..i + 11).all(d)
        && !(i > 0 && text[i - 1].is_ascii_digit())
        && !text.get(i + 11).is_some_and(u8::is_ascii_digit)
        && isolated(text, i, i + 11)
        && validate::ssn_ok(
            num(&text[i..i + 3]),
            num(&text[i + 4..i + 6]),
            num(&text[i + 7..i + 11]),
        )
}

/// The lanes of `w` where three digits and a `-` or space start (the head
/// of `ddd-dd-dddd`).
#[inline(always)]
fn ssn_head_lanes(w: u64) -> u64 {
    let t = w & !HIGH;
    let ascii = !w & HIGH;
    let d = lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1) & ascii;
    let sep = (lanes_eq(t, b'-') | lanes_eq(t, b' ')) & ascii;
    d & d >> 8 & d >> 16 & sep >> 24
}

/// The byte-window scans [`iban_head`] and [`digit_sep_digit`] replaced:
/// the oracles of their test.
#[cfg(test)]
fn iban_head_bytes(text: &[u8]) -> bool {
    text.windows(4).any(|w| {
        w[0].is_ascii_uppercase()
            && w[1].is_ascii_uppercase()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    })
}

#[cfg(test)]
fn digit_sep_digit_bytes(text: &[u8]) -> bool {
    text.windows(3).any(|w| {
        w[0].is_ascii_digit() && matches!(w[1], b' ' | b'-' | b'.' | b'/') && w[2].is_ascii_digit()
    })
}

/// A `0` that starts a digit run (see [`Detectors::find`]): national
/// numbers have a trunk prefix.
#[inline(never)]
fn zero_lead(text: &[u8]) -> bool {
    let mut cur = 0usize;
    for &b in text {
        if b == b'0' && cur == 0 {
            return true;
        }
        let c = CLASS[usize::from(b)];
        cur = (cur + usize::from(c & C_DIGIT != 0)) * usize::from(c & C_ANY != 0);
    }
    false
}

/// Can `phones` accept a US or national number here (E.164 needs a `+`)?
/// The US pattern ends in a run of exactly three digits, `[.-]`, four
/// digits and a byte that neither continues a word nor is a `-`; the
/// national one starts with a whole digit run `0d{1,4}` after such a byte,
/// then `[ /.-]dd`. User agents (`Chrome/120.0.6099.109`) and UUIDs pass
/// the digit-run gate often (a four-character UUID group is all digits one
/// time in seven: `a019-1984-4066-...`), and none of them is a number `phones`
/// keeps (it wants the match [`isolated`]); this scan costs far less than
/// the two regexes.
#[inline(never)]
fn phone_shape(text: &[u8]) -> bool {
    // Both shapes have a separator between two digits: those windows
    // (`d[ /.-]d`) are found six a step, and the shapes are checked only
    // around them, each with two word reads.
    let inside = HIGH >> 16;
    let mut at = 0;
    while at + 3 <= text.len() {
        let mut starts = digit_sep_digit_lanes(word_at(text, at)) & inside;
        while starts != 0 {
            if phone_around(text, at + (starts.trailing_zeros() / 8) as usize + 1) {
                return true;
            }
            starts &= starts - 1;
        }
        at += 6;
    }
    false
}

/// The two phone shapes around the separator at `p`, which has a digit on
/// each side.
#[inline(always)]
fn phone_around(text: &[u8], p: usize) -> bool {
    let before = word_before(text, p);
    // The whole digit run before the separator (8: eight or more).
    let run = (!digit_bytes(before) & HIGH).leading_zeros() as usize / 8;
    let after = word_at(text, p + 1);
    let digits_after = digit_bytes(after);
    // US: exactly three digits, `.` or `-`, exactly four digits and no
    // glue byte (UUID groups like `-1984-4066-` pass a looser test).
    if run == 3
        && matches!(text[p], b'.' | b'-')
        && digits_after & 0x8080_8080 == 0x8080_8080
        && !is_glue((after >> 32) as u8)
    {
        return true;
    }
    // National: `0` and one to four more digits at a word start, then two
    // digits. Before a run of at most five, the eight bytes hold its first
    // digit and the byte before it (zero at the text's start: no glue).
    (2..=5).contains(&run)
        && digits_after & 0x8080 == 0x8080
        && (before >> (8 * (8 - run))) as u8 == b'0'
        && !is_glue((before >> (8 * (7 - run))) as u8)
}

/// The byte-at-a-time `phone_shape` the word-at-a-time scans replaced:
/// the oracle of their tests.
#[cfg(test)]
fn phone_shape_bytes(text: &[u8]) -> bool {
    let glue = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    // The current run of digits, and whether it follows `ddd.` or `ddd-`.
    let (mut digits, mut after_group) = (0usize, false);
    for (i, &b) in text.iter().enumerate() {
        if b.is_ascii_digit() {
            if b == b'0' && digits == 0 && (i == 0 || !glue(text[i - 1])) {
                let run = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                let rest = &text[i + run..];
                if (2..=5).contains(&run)
                    && rest.len() >= 3
                    && matches!(rest[0], b' ' | b'/' | b'.' | b'-')
                    && rest[1].is_ascii_digit()
                    && rest[2].is_ascii_digit()
                {
                    return true;
                }
            }
            digits += 1;
        } else {
            if after_group && digits == 4 && !glue(b) {
                return true;
            }
            after_group = matches!(b, b'.' | b'-') && digits == 3;
            digits = 0;
        }
    }
    after_group && digits == 4
}

/// Does a key end at or after `at` and a `=` or `:` follow (`_key = `,
/// `Token": `)?
fn kv_follows(text: &[u8], at: usize) -> bool {
    let rest = &text[at.min(text.len())..];
    let mut i = rest
        .iter()
        .take(48)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    if matches!(rest.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i += rest[i.min(rest.len())..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    matches!(rest.get(i), Some(b'=' | b':'))
}

fn word_end(text: &[u8], from: usize) -> usize {
    from + text[from..]
        .iter()
        .take(1024)
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'&' | b'<' | b'>'))
        .unwrap_or(text.len() - from)
}

/// `Authorization: <scheme> <credentials>`: the scheme word and the
/// credentials after it.
fn auth_value_end(text: &[u8], start: usize) -> usize {
    let first = word_end(text, start);
    let scheme = &text[start..first];
    if !scheme.is_empty() && scheme.len() <= 12 && scheme.iter().all(u8::is_ascii_alphabetic) {
        let next = first
            + text[first..]
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
        if next > first && next < text.len() {
            return word_end(text, next);
        }
    }
    first
}

/// `Cookie: a=1; b=2; Path=/; HttpOnly`: every `;`-separated pair.
fn cookie_value_end(text: &[u8], start: usize) -> usize {
    let mut end = word_end(text, start);
    while end > start && text[end - 1] == b';' {
        let next = end + text[end..].iter().take_while(|b| **b == b' ').count();
        if next >= text.len() || !text[next].is_ascii_alphanumeric() {
            break;
        }
        end = word_end(text, next);
    }
    end.min(text.len())
}

/// Is `start..end` free of a glued-on word or id (`70f856c7-0482-4891-8056-...`
/// is a UUID, not a phone number)?
fn isolated(text: &[u8], start: usize, end: usize) -> bool {
    let glue = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    (start == 0 || !glue(&text[start - 1])) && !text.get(end).is_some_and(glue)
}

impl Detectors {
    /// One run of `[A-Za-z0-9+/_-]` (plus padding). `/ + - _` are base64
    /// characters but also path, form and identifier separators: a run with
    /// a plain word between them (`/api/v1/users/...`, `signed+with+...`,
    /// `checkout-7d9f8b6c4-x2kzp`) is judged part by part, a run without
    /// one (a base64 blob) as a whole.
    fn entropy_run(
        &self,
        text: &[u8],
        start: usize,
        end: usize,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        let min = self.min_entropy_len;
        let run = &text[start..end];
        let sep = |b: &u8| matches!(b, b'/' | b'+' | b'-' | b'_');
        let is_word = |p: &[u8]| {
            p.len() >= 3
                && p.iter().all(u8::is_ascii_lowercase)
                && p.iter()
                    .any(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y'))
                || p.len() >= 2 && p.len() <= 4 && p.iter().all(u8::is_ascii_digit)
        };
        let split = find_class(run, 0, sep_bytes) < run.len() && run.split(sep).any(is_word);
        let mut judge = |s: usize, e: usize| {
            // Leading separators are not part of a secret.
            let s = s + text[s..e].iter().take_while(|b| sep(b)).count();
            let tok = &text[s..e];
            if e - s >= min && !is_token(tok) && validate::high_entropy(tok) {
                out.push(Match {
                    start: s,
                    end: e,
                    rule: ENTROPY,
                });
            }
        };
        if !split {
            judge(start, end);
            return;
        }
        // Part by part, separators found eight bytes a step.
        let (mut s, mut i) = (start, 0);
        loop {
            let at = find_class(run, i, sep_bytes);
            if at == run.len() {
                break;
            }
            judge(s, start + at);
            s = start + at + 1;
            i = at + 1;
        }
        if s < end {
            judge(s, end);
        }
    }
}

/// Is the text just before a dotted quad a version marker (`v1.2.3.4`,
/// `version 1.2.3.4`, `Chrome/1.2.3.4`, `pkg@1.2.3.4`, `build 1.2.3.4`)?
fn version_context(before: &[u8]) -> bool {
    let Some(&last) = before.last() else {
        return false;
    };
    if matches!(last, b'v' | b'V' | b'@') {
        return true;
    }
    if last == b'/' {
        return before.len() >= 2 && before[before.len() - 2].is_ascii_alphanumeric();
    }
    let tail = &before[before.len().saturating_sub(24)..];
    // Lowercased in a stack buffer: this runs for every dotted quad found.
    let mut buf = [0u8; 24];
    for (d, b) in buf.iter_mut().zip(tail) {
        *d = b.to_ascii_lowercase();
    }
    let t = buf[..tail.len()].trim_ascii_end();
    let t = match t.last() {
        Some(b'+' | b'=' | b':') => t[..t.len() - 1].trim_ascii_end(),
        _ => t,
    };
    [
        "version", "ver", "build", "release", "firmware", "kernel", "rev", "v",
    ]
    .iter()
    .any(|w| {
        t.ends_with(w.as_bytes())
            && (t.len() == w.len() || !t[t.len() - w.len() - 1].is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64: deterministic random inputs without a dependency.
    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// The four-bytes-a-step walk reports exactly what the library's
    /// overlapping iterator reports, in the same order, on random text over
    /// the keywords' letters (so matches overlap and chain), every length
    /// around the step, with and without an empty keyword.
    #[test]
    fn keyword_walk_matches_the_library() {
        let mut pats: Vec<String> = KEYWORDS
            .iter()
            .flat_map(|(_, kws)| kws.iter().map(|k| (*k).to_owned()))
            .collect();
        let mut x = 0x1234_5678_9abc_def0u64;
        for empty in [false, true] {
            if empty {
                pats.push(String::new());
            }
            let dfa = DFA::builder()
                .ascii_case_insensitive(true)
                .prefilter(false)
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .unwrap();
            let lib = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .unwrap();
            let table = KeywordTable::new(&dfa);
            let alphabet: Vec<u8> = pats
                .iter()
                .flat_map(|p| p.bytes())
                .chain(*b" =:@x")
                .collect();
            for n in 0..400 {
                let len = n % 37;
                let text: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize])
                    .collect();
                let want: Vec<(usize, usize)> = lib
                    .find_overlapping_iter(&text)
                    .map(|m| (m.pattern().as_usize(), m.end()))
                    .collect();
                let mut got = Vec::new();
                table.hits(&text, |p, e| got.push((p, e)));
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }

    /// The eight-bytes-a-step gating pass counts what the byte-at-a-time
    /// pass counts, wherever `find` looks, on every entropy minimum, over random
    /// strings of the bytes that matter (digits, separators, letters,
    /// `.:+@`, `_/()`, bytes >= 0x80, NUL), long runs of one class, and
    /// every length around the word size.
    #[test]
    fn gate_matches_the_byte_pass() {
        const ALPHABETS: &[&[u8]] = &[
            b"0123456789 -.:+@/()_aZ",
            b"0123456789 -",
            b"0123456789.()/+x",
            b"aB3_/+-",
            b"0123456789abcdef-",
            b"0 a.",
            b"\x00\x7f\x80\xff\xc3\xa9 9-.:+@AZaz_/()*,`{[",
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in 0..40 {
            for alphabet in ALPHABETS {
                for _ in 0..40 {
                    inputs.push(
                        (0..len)
                            .map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize])
                            .collect(),
                    );
                }
            }
        }
        for _ in 0..3_000 {
            // Long runs of one byte glued together: runs across many words.
            let mut s = Vec::new();
            while s.len() < 300 {
                let b = ALPHABETS[0][(next(&mut x) % 22) as usize];
                let n = (next(&mut x) % 40) as usize;
                s.extend(std::iter::repeat_n(b, n));
            }
            inputs.push(s);
        }
        // Every byte value.
        inputs.push((0..=255u8).collect());
        inputs.push((0..=255u8).rev().cycle().take(70_000).collect());
        // Past the byte pass's 65,535-byte chunks.
        inputs.push(b"12345 ".repeat(20_000));
        inputs.push(b"a".repeat(70_001));
        // Below the smallest count `find` tests, the maxima may be short
        // (runs inside one word are skipped there), never over.
        let seen = |g: Gate, cand_len: usize| Gate {
            plain: if g.plain >= 6 { g.plain } else { 0 },
            any: if g.any >= 4 { g.any } else { 0 },
            longest: if cand_len <= 6 || g.longest >= 7 {
                g.longest
            } else {
                0
            },
            ..g
        };
        for t in &inputs {
            for cand_len in [1, 6, 7, 8, 18, 254] {
                let new = if cand_len <= 6 {
                    gate::<true>(t)
                } else {
                    gate::<false>(t)
                };
                let old = gate_bytes(t);
                let text = String::from_utf8_lossy(t);
                assert_eq!(
                    seen(new, cand_len),
                    seen(old, cand_len),
                    "cand_len {cand_len}: {text:?}"
                );
                assert!(
                    new.plain <= old.plain && new.any <= old.any && new.longest <= old.longest,
                    "cand_len {cand_len}: {text:?}"
                );
            }
        }
    }

    /// The window-scanning `phone_shape` decides as the byte-at-a-time one, and
    /// the word-at-a-time class search finds what a byte loop finds.
    #[test]
    fn word_scans_match_byte_scans() {
        let mut x = 0x0123_4567_89AB_CDEFu64;
        let alphabets: &[&[u8]] = &[
            b"0123456789.- /a_",
            b"00123.-9x",
            b"0123456789=+/_aZ.\x80 ",
            b"DEGB0123 -./Z@\xc3",
        ];
        for n in 0..30_000 {
            let alphabet = alphabets[n % alphabets.len()];
            let len = (next(&mut x) % 40) as usize;
            let t: Vec<u8> = (0..len)
                .map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize])
                .collect();
            let text = String::from_utf8_lossy(&t);
            assert_eq!(phone_shape(&t), phone_shape_bytes(&t), "{text:?}");
            assert_eq!(iban_head(&t), iban_head_bytes(&t), "{text:?}");
            assert_eq!(digit_sep_digit(&t), digit_sep_digit_bytes(&t), "{text:?}");
            let from = (next(&mut x) % 41) as usize;
            let run = |b: u8| CLASS[usize::from(b)] & C_RUN != 0;
            let find = |f: &dyn Fn(u8) -> bool| {
                (from.min(t.len())..t.len())
                    .find(|&i| f(t[i]))
                    .unwrap_or(t.len())
            };
            assert_eq!(
                find_class(&t, from.min(t.len()), run_bytes),
                find(&run),
                "{text:?}"
            );
            assert_eq!(
                find_class(&t, from.min(t.len()), |w| !run_bytes(w) & HIGH),
                find(&|b| !run(b)),
                "{text:?}"
            );
            assert_eq!(
                find_class(&t, from.min(t.len()), digit_bytes),
                find(&|b: u8| b.is_ascii_digit()),
                "{text:?}"
            );
        }
    }

    /// The run-at-a-time entropy scan the word-at-a-time one replaced: every
    /// maximal run of `[A-Za-z0-9+_/-]` with up to two `=` after it, judged
    /// when it is `min` bytes or more and not all hex-ish.
    fn entropy_by_runs(d: &Detectors, text: &[u8], out: &mut Vec<Match>) {
        let never = |_: &[u8]| false;
        let mut i = 0;
        loop {
            i = find_class(text, i, run_bytes);
            if i == text.len() {
                break;
            }
            let start = i;
            i = find_class(text, i, |w| !run_bytes(w) & HIGH);
            let mut end = i;
            while end < text.len() && end - i < 2 && text[end] == b'=' {
                end += 1;
            }
            if end - start >= d.min_entropy_len && !all_in(&text[start..i], hexish_bytes) {
                d.entropy_run(text, start, end, &never, out);
            }
            i = end.max(i);
        }
    }

    /// The entropy scan finds what the run-at-a-time scan finds, on every
    /// minimum length (the smallest ones judge runs inside one word), over
    /// random texts of secret-like runs, hex, separators and padding, at
    /// every length around the word size.
    #[test]
    fn entropy_scan_matches_the_run_scan() {
        const PIECES: &[&str] = &[
            "aK9xQ2mZ", "7fB3", "Zq", "deadbeef", "0123", "-", "_", "/", "+", "=", "==", " ", ".",
            ":", "\u{e9}", "token", "xY7",
        ];
        let never = |_: &[u8]| false;
        let mut x = 0x0E17_0E17_5EC2_E75Au64;
        let mut found = 0;
        for min in [1, 3, 6, 8, 9, 12, 20, 40] {
            let mut d = Detectors::new(Vec::new(), &[], &[]);
            d.min_entropy_len = min;
            for _ in 0..20_000 {
                let n = (next(&mut x) % 24) as usize;
                let t: String = (0..n)
                    .map(|_| PIECES[(next(&mut x) % PIECES.len() as u64) as usize])
                    .collect();
                let (mut got, mut want) = (Vec::new(), Vec::new());
                d.entropy(t.as_bytes(), &never, &mut got);
                entropy_by_runs(&d, t.as_bytes(), &mut want);
                assert_eq!(got, want, "min {min}: {t:?}");
                found += want.len();
            }
        }
        // The texts hold findings at every minimum, not only empty answers.
        assert!(found > 50_000, "{found} findings");
    }

    /// The byte-at-a-time SSN scan the window scan replaced: every position
    /// tried in turn.
    fn ssns_bytes(text: &[u8], out: &mut Vec<Match>) {
        let mut i = 0;
        while i + 11 <= text.len() {
            if ssn_at(text, i) {
                out.push(Match {
                    start: i,
                    end: i + 11,
                    rule: SSN,
                });
                i += 11;
            } else {
                i += 1;
            }
        }
    }

    /// The SSN window scan finds what the byte loop finds, on random texts
    /// of SSN pieces (so that heads, near misses and chains are common),
    /// with bytes whose low seven bits are a digit or separator.
    #[test]
    fn ssn_scan_matches_the_byte_scan() {
        const PIECES: &[&str] = &[
            "123",
            "45",
            "6789",
            "078",
            "05",
            "1120",
            "-",
            " ",
            "a",
            "_",
            "0",
            "9",
            "\u{ad}",
            "\u{b5}",
            "666",
            "000",
            "12-",
            "123-45-6789",
        ];
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut x = 0x55AA_1234_9876_F00Du64;
        let mut found = 0;
        for _ in 0..200_000 {
            let n = (next(&mut x) % 12) as usize;
            let t: String = (0..n)
                .map(|_| PIECES[(next(&mut x) % PIECES.len() as u64) as usize])
                .collect();
            let (mut got, mut want) = (Vec::new(), Vec::new());
            d.ssns(t.as_bytes(), &mut got);
            ssns_bytes(t.as_bytes(), &mut want);
            assert_eq!(got, want, "{t:?}");
            found += want.len();
        }
        assert!(found > 3_000, "{found} findings");
    }

    /// `phone_shape` gates the US and national phone regexes: wherever
    /// `phones` keeps a match of either, it must say yes (random phone-like
    /// and UUID-like texts built from pieces, so that matches are common).
    /// It may say no to a regex match that `phones` drops (a number glued
    /// to a word or a `-`, as inside UUIDs), and does for some here.
    #[test]
    fn phone_shape_admits_every_phone_match() {
        let d = Detectors::new(Vec::new(), &[], &[]);
        const PIECES: &[&str] = &[
            "415",
            "555",
            "2671",
            "0",
            "030",
            "12",
            "1234",
            "98765",
            "-",
            ".",
            " ",
            "/",
            "(",
            ") ",
            "a",
            "c",
            "_",
            "x0",
            "0014",
            "00140",
            "a014-",
            "1984-4066-",
            "-012-",
        ];
        let mut x = 0x5151_7A7A_0303_1919u64;
        let (mut kept, mut refused) = (0, 0);
        let mut out = Vec::new();
        for _ in 0..500_000 {
            let n = 1 + next(&mut x) % 8;
            let t: String = (0..n)
                .map(|_| PIECES[(next(&mut x) % PIECES.len() as u64) as usize])
                .collect();
            let t = t.as_bytes();
            out.clear();
            d.phones(t, &mut out);
            if !out.is_empty() {
                kept += 1;
                assert!(phone_shape(t), "{:?}", String::from_utf8_lossy(t));
            } else if (d.phone_us.is_match(t) || d.phone_national.is_match(t)) && !phone_shape(t) {
                refused += 1;
            }
        }
        assert!(kept > 1_000, "only {kept} texts had a number kept");
        assert!(
            refused > 1_000,
            "only {refused} regex matches refused by the shape test"
        );
    }

    /// The SWAR compares agree with the byte tests on every byte value.
    #[test]
    fn swar_compares_match_bytes() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, 0, b'9', b, 0x80, b, 0xff, b]);
            let t = word & !HIGH;
            let ascii = !word & HIGH;
            for c in 0..0x80u8 {
                let want = |f: &dyn Fn(u8) -> bool| {
                    word.to_le_bytes()
                        .iter()
                        .enumerate()
                        .fold(0u64, |m, (i, &v)| m | (u64::from(f(v)) << (8 * i + 7)))
                };
                assert_eq!(lanes_eq(t, c) & ascii, want(&|v| v == c), "eq {b} {c}");
                assert_eq!(
                    lanes_ge(t, c) & ascii,
                    want(&|v| v < 0x80 && v >= c),
                    "ge {b} {c}"
                );
            }
        }
    }

    /// The hand-written dotted-quad scan finds exactly what the regex it
    /// replaced finds, on tricky and on random inputs.
    #[test]
    fn dotted_quad_matches_the_regex() {
        let re = bytes_re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("pattern");
        let scan = |t: &[u8]| {
            let mut v = Vec::new();
            let mut next = 0;
            while let Some(q) = dotted_quad(t, next) {
                // The values read from words are the groups' numbers.
                let groups: Vec<&[u8]> = t[q.start..q.end].split(|b| *b == b'.').collect();
                let parsed = groups
                    .iter()
                    .map(|g| g.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')));
                assert!(parsed.eq(q.octets), "{q:?} in {t:?}");
                let zero = groups.iter().any(|g| g.len() > 1 && g[0] == b'0');
                assert_eq!(q.leading_zero, zero, "{q:?} in {t:?}");
                v.push((q.start, q.end));
                next = q.end;
            }
            v
        };
        let mut inputs: Vec<Vec<u8>> = [
            "1.2.3.4",
            "1234.5.6.7.8",
            "1.2.3.4444.5.6.7.8",
            "a1.2.3.4 _1.2.3.4 -1.2.3.4-",
            "10.0.0.1.nip.io 1.2.3.4.5",
            "999.999.999.999x 1.2.3 1..2.3.4 1.2.3.4_",
            "Chrome/120.0.6099.109 Safari/537.36",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let len = (x % 24) as usize;
            let s = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"0123456789....a_ -"[(x % 18) as usize]
                })
                .collect();
            inputs.push(s);
        }
        for t in &inputs {
            let want: Vec<(usize, usize)> = re.find_iter(t).map(|m| (m.start(), m.end())).collect();
            assert_eq!(scan(t), want, "{}", String::from_utf8_lossy(t));
        }
    }
}
