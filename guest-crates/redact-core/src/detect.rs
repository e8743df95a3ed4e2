//! Rules by value: detectors that find sensitive text anywhere inside a
//! string. A cheap pass decides which detectors may match (one aho-corasick
//! automaton over every detector's keywords, plus byte counts for the
//! digit- and colon-shaped classes); only those run their ASCII byte regexes
//! and validators.

use std::net::Ipv6Addr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

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

/// Class bits of the gating pass (see [`Detectors::find`]): a digit.
const C_DIGIT: u8 = 1;
/// Continues a plain digit run: digits, space, dash.
const C_PLAIN: u8 = 2;
/// Continues any digit run: those and `.()/+`.
const C_ANY: u8 = 4;
/// Part of a high-entropy candidate run: `[A-Za-z0-9+_/-]`.
const C_RUN: u8 = 8;
/// Counts of `.`, `:`, `+` and `@` in the 16-bit lanes of one `u64`, so
/// the gating pass adds one table entry a byte for all four.
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
    ac: AhoCorasick,
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
        // A full DFA: a few KiB more memory, the fastest overlapping scan.
        // No prefilter: with one-byte and short common keywords (`@`,
        // `key`, `set`) its candidates are everywhere, and restarting it at
        // each one cost more than the plain DFA walk.
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .prefilter(false)
            .kind(Some(AhoCorasickKind::DFA))
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
            ac,
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
        let mut want: u128 = 0;
        for m in self.ac.find_overlapping_iter(text) {
            let bit = self.ac_rule[m.pattern().as_usize()];
            // A sensitive word gates `inline_secret` only when a `key=` or
            // `key:` follows (`/api/v1/` is not `api_key=`).
            if bit == 1 << INLINE && !kv_follows(text, m.end()) {
                continue;
            }
            want |= bit;
        }
        // One pass of byte counts gates the shape-based classes. A "digit
        // run" is digits joined by number separators; a letter or any other
        // byte ends it, so hex ids and UUIDs rarely wake the card, phone and
        // IBAN patterns. `plain` runs (space and dash only: cards, SSNs,
        // IBAN groups) and `any` runs (also `.()/+`: phones) are counted
        // apart, so version strings and dotted quads do not look like cards.
        // Branch-free over class tables: this pass reads every byte of every
        // scanned string, so it is the engine's floor; the rarer shape tests
        // (`XX00`, `d-d`, a leading zero) run after it, only when the counts
        // call for them.
        let (mut plain, mut cur_plain, mut any, mut cur_any) = (0usize, 0usize, 0usize, 0usize);
        let (mut run, mut longest) = (0usize, 0usize);
        let (mut dots, mut colons, mut plus, mut at) = (0u64, 0u64, 0u64, 0u64);
        // The first run that may reach the entropy minimum with two `=`.
        let cand_len = self.min_entropy_len.saturating_sub(2).max(1);
        let mut first_cand = text.len();
        // 16-bit lanes: a chunk shorter than 2^16 cannot carry between them.
        for (n, chunk) in text.chunks(usize::from(u16::MAX)).enumerate() {
            let mut lanes = 0u64;
            for (i, &b) in chunk.iter().enumerate() {
                let c = CLASS[usize::from(b)];
                let digit = usize::from(c & C_DIGIT != 0);
                cur_plain = (cur_plain + digit) * usize::from(c & C_PLAIN != 0);
                cur_any = (cur_any + digit) * usize::from(c & C_ANY != 0);
                plain = plain.max(cur_plain);
                any = any.max(cur_any);
                run = (run + 1) * usize::from(c & C_RUN != 0);
                longest = longest.max(run);
                lanes += COUNT[usize::from(b)];
                if run == cand_len && first_cand == text.len() {
                    first_cand = n * usize::from(u16::MAX) + i + 1 - run;
                }
            }
            dots += lanes & 0xFFFF;
            colons += lanes >> 16 & 0xFFFF;
            plus += lanes >> 32 & 0xFFFF;
            at += lanes >> 48;
        }
        let plus = plus > 0;
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
        if at == 0 {
            want &= !(1 << URL_PASSWORD);
        }
        let want = want & on;
        if want == 0 && self.custom.iter().all(|c| c.gated) {
            return;
        }
        let has = |r: usize| want & (1 << r) != 0;
        let group = |re: &Regex, rule: usize, out: &mut Vec<Match>| {
            for (start, end) in spans(re, text) {
                out.push(Match { start, end, rule });
            }
        };
        for rule in [
            JWT,
            URL_PASSWORD,
            BEARER,
            AWS_AK,
            AWS_SK,
            GITHUB,
            GITLAB,
            SLACK,
            STRIPE,
            GOOGLE,
            EMAIL,
        ] {
            if has(rule)
                && let Some(re) = &self.re[rule]
            {
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
            // Runs before `first_cand` are too short to judge.
            self.entropy(text, first_cand, is_token, out);
        }
        for c in &self.custom {
            if on & (1 << c.rule) != 0 && (!c.gated || want & (1 << c.rule) != 0) {
                group(&c.regex, c.rule, out);
            }
        }
    }

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
    fn ssns(&self, text: &[u8], out: &mut Vec<Match>) {
        let d = |i: usize| text[i].is_ascii_digit();
        let num = |b: &[u8]| b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
        let mut i = 0;
        while i + 11 <= text.len() {
            let sep = text[i + 3];
            if d(i)
                && d(i + 1)
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
            {
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

    fn ipv4s(&self, text: &[u8], out: &mut Vec<Match>) {
        let mut next = 0;
        while let Some((start, end)) = dotted_quad(text, next) {
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
            let mut o = [0u8; 4];
            let mut ok = true;
            for (i, part) in text[start..end].split(|b| *b == b'.').enumerate() {
                let v = part.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
                if v > 255 || part.len() > 1 && part[0] == b'0' || i > 3 {
                    ok = false;
                    break;
                }
                o[i] = v as u8;
            }
            if ok && (self.private_ips || !validate::ipv4_private(o)) {
                out.push(Match {
                    start,
                    end,
                    rule: IPV4,
                });
            }
        }
    }

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

    fn entropy(
        &self,
        text: &[u8],
        from: usize,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        let run_byte = |b: u8| CLASS[usize::from(b)] & C_RUN != 0;
        let mut i = from;
        while i < text.len() {
            if !run_byte(text[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && run_byte(text[i]) {
                i += 1;
            }
            let mut end = i;
            while end < text.len() && end - i < 2 && text[end] == b'=' {
                end += 1;
            }
            // No part of a run shorter than the minimum can be judged.
            if end - start >= self.min_entropy_len {
                self.entropy_run(text, start, end, is_token, out);
            }
            i = end.max(i);
        }
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

/// The first dotted quad at or after `from`, exactly as the regex
/// `\b(?:\d{1,3}\.){3}\d{1,3}\b` (ASCII word boundaries) finds it, by
/// hand: the regex engine's per-search setup cost more than this scan on the
/// short strings it mostly sees (peer addresses, user agents).
fn dotted_quad(text: &[u8], from: usize) -> Option<(usize, usize)> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = from;
    while i < text.len() {
        // A match starts on a digit after a non-word byte (`\b`); each group
        // is a whole run of one to three digits, so a failed start is
        // retried at the next position like the regex would.
        if !text[i].is_ascii_digit() || i > 0 && word(text[i - 1]) {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut ok = true;
        for group in 0..4 {
            let s = j;
            while j < text.len() && j - s < 3 && text[j].is_ascii_digit() {
                j += 1;
            }
            if j == s {
                ok = false;
                break;
            }
            if group < 3 {
                if text.get(j) != Some(&b'.') {
                    ok = false;
                    break;
                }
                j += 1;
            }
        }
        if ok && !text.get(j).is_some_and(|b| word(*b)) {
            return Some((i, j));
        }
        i += 1;
    }
    None
}

/// `XX00` (an IBAN's country code and check digits) anywhere in `text`.
fn iban_head(text: &[u8]) -> bool {
    text.windows(4).any(|w| {
        w[0].is_ascii_uppercase()
            && w[1].is_ascii_uppercase()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    })
}

/// A digit, a number separator (` -./`) and a digit in a row.
fn digit_sep_digit(text: &[u8]) -> bool {
    text.windows(3).any(|w| {
        w[0].is_ascii_digit() && matches!(w[1], b' ' | b'-' | b'.' | b'/') && w[2].is_ascii_digit()
    })
}

/// A `0` that starts a digit run (see [`Detectors::find`]): national
/// numbers have a trunk prefix.
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

/// Can the US or national phone pattern match (E.164 needs a `+`)? The US
/// one holds `ddd[.-]dddd`, the national one starts with a whole digit run
/// `0d{1,4}` at a word start, then `[ /.-]dd`. User agents
/// (`Chrome/120.0.6099.109`) and UUIDs pass the digit-run gate often; this
/// scan costs far less than the two regexes.
fn phone_shape(text: &[u8]) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    // The current run of digits, and whether it follows `ddd.` or `ddd-`.
    let (mut digits, mut after_group) = (0usize, false);
    for (i, &b) in text.iter().enumerate() {
        if b.is_ascii_digit() {
            if b == b'0' && digits == 0 && (i == 0 || !word(text[i - 1])) {
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
            if after_group && digits >= 4 {
                return true;
            }
        } else {
            after_group = matches!(b, b'.' | b'-') && digits >= 3;
            digits = 0;
        }
    }
    false
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
        let split = run.iter().any(sep) && run.split(sep).any(is_word);
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
        let mut s = start;
        for (i, b) in run.iter().enumerate() {
            if sep(b) {
                judge(s, start + i);
                s = start + i + 1;
            }
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
    let lower: Vec<u8> = tail.to_ascii_lowercase();
    let t = lower.trim_ascii_end();
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

    /// The hand-written dotted-quad scan finds exactly what the regex it
    /// replaced finds, on tricky and on random inputs.
    #[test]
    fn dotted_quad_matches_the_regex() {
        let re = bytes_re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("pattern");
        let scan = |t: &[u8]| {
            let mut v = Vec::new();
            let mut next = 0;
            while let Some((s, e)) = dotted_quad(t, next) {
                v.push((s, e));
                next = e;
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
