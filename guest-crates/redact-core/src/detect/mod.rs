//! Rules by value: detectors that find sensitive text anywhere inside a
//! string. A cheap pass decides which detectors may match (one aho-corasick
//! automaton over every detector's keywords, plus byte counts for the
//! digit- and colon-shaped classes); only those run their ASCII byte regexes
//! and validators.
//!
//! One file per detector family, each with the tests that hold its fast
//! scans to their byte-at-a-time oracles: [`gate`] (the gating pass),
//! `by_keyword` (the keyword-gated rules), `secrets` (vendor tokens, keys
//! and `Authorization` schemes), `email`, `card`, `iban`, `ssn`, `phone`,
//! `ipv4`, `ipv6`, `inline` (`key=value` pairs under a sensitive key) and
//! `entropy`.

use regex::bytes::{Regex, RegexBuilder};

use crate::keywords::KeywordTable;

mod by_keyword;
mod card;
mod email;
mod entropy;
mod gate;
mod home;
mod iban;
mod imei;
mod inline;
mod ipv4;
mod ipv6;
mod mac;
mod password;
mod phone;
mod phone_more;
mod secrets;
mod ssn;

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
    "vendor_token",
    "email",
    "card",
    "iban",
    "imei",
    "ssn",
    "phone",
    "mac",
    "ipv4",
    "ipv6",
    "home_user",
    "password_text",
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
const VENDOR: usize = id("vendor_token");
const EMAIL: usize = id("email");
const CARD: usize = id("card");
const IBAN: usize = id("iban");
const IMEI: usize = id("imei");
const SSN: usize = id("ssn");
const PHONE: usize = id("phone");
const MAC: usize = id("mac");
const IPV4: usize = id("ipv4");
const IPV6: usize = id("ipv6");
const HOME_USER: usize = id("home_user");
const PASSWORD_TEXT: usize = id("password_text");
/// `key=value` pairs inside text whose key is sensitive.
pub const INLINE: usize = id("inline_secret");
const ENTROPY: usize = id("high_entropy");

/// A bit of the gating pass's answer that is no rule: the word `imei` is
/// in the text (IMEIs after the keyword, not only grouped ones). Rule ids
/// stop below 127 (at most 100 custom rules after the built-ins).
const IMEI_KEYWORD_BIT: u32 = 127;
/// Another: the text may hold one of `phone_more`'s shapes.
const PHONE_MORE_BIT: u32 = 126;
/// Another: a phone word is in the text (cleared again by the gate when
/// too few digits follow anywhere).
const PHONE_WORD_BIT: u32 = 125;
/// The bits of the gating pass's answer that are no rule.
const FLAG_BITS: u128 = 1 << IMEI_KEYWORD_BIT | 1 << PHONE_MORE_BIT | 1 << PHONE_WORD_BIT;

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
    phone_paren: Regex,
    phone_call_prefix: Regex,
    phone_ext: Regex,
    phone_after_word: Regex,
    imei_after_keyword: Regex,
    imei_grouped: Regex,
    home: Regex,
    password_text: Regex,
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
        let (keywords, ac_rule) = by_keyword::automaton(custom_keywords, inline_words);
        let mut re: Vec<Option<Regex>> = vec![None; BUILTIN_VALUE_RULES.len()];
        let builtin = secrets::PATTERNS.iter().chain(&[
            (EMAIL, email::PATTERN),
            (CARD, card::PATTERN),
            (IBAN, iban::PATTERN),
            (PHONE, phone::E164_PATTERN),
            (MAC, mac::PATTERN),
        ]);
        for &(rule, p) in builtin {
            re[rule] = Some(bytes_re(p).expect("built-in pattern compiles"));
        }
        Detectors {
            keywords,
            ac_rule,
            re,
            private_end: bytes_re(secrets::PRIVATE_KEY_END_PATTERN)
                .expect("built-in pattern compiles"),
            phone_us: bytes_re(phone::US_PATTERN).expect("built-in pattern compiles"),
            phone_national: bytes_re(phone::NATIONAL_PATTERN).expect("built-in pattern compiles"),
            phone_paren: bytes_re(phone_more::PAREN_TRUNK).expect("built-in pattern compiles"),
            phone_call_prefix: bytes_re(phone_more::CALL_PREFIX)
                .expect("built-in pattern compiles"),
            phone_ext: bytes_re(phone_more::US_EXTENSION).expect("built-in pattern compiles"),
            phone_after_word: bytes_re(phone_more::AFTER_WORD).expect("built-in pattern compiles"),
            imei_after_keyword: bytes_re(imei::AFTER_KEYWORD).expect("built-in pattern compiles"),
            imei_grouped: bytes_re(imei::GROUPED).expect("built-in pattern compiles"),
            home: bytes_re(home::PATTERN).expect("built-in pattern compiles"),
            password_text: bytes_re(password::PATTERN).expect("built-in pattern compiles"),
            inline_kv: bytes_re(inline::KEY_PATTERN).expect("built-in pattern compiles"),
            custom,
            enabled: u128::MAX,
            private_ips: false,
            min_entropy_len: 20,
        }
    }

    /// Finds every enabled rule's matches in `text`. `is_sensitive_key`
    /// decides whether a `key=` inside the text is a sensitive key;
    /// `skip` removes rules for this value (e.g. `ipv4` under a version key).
    ///
    /// Returns whether `text` holds a `%` or a `+`: only then may it have
    /// a decoded view ([`crate::form::View::of`]). The gating pass reads
    /// every byte anyway; a search of its own for the two cost the guest
    /// 4% of its instructions on loadgen's values.
    ///
    /// Always inlined: `redact_text` calls it for the text and, in a cold
    /// function of its own, for the text's decoded view; as one out-of-line
    /// function for both, the redact guest was 10-13% slower in the
    /// pipeline benchmark.
    #[inline(always)]
    pub fn find(
        &self,
        text: &[u8],
        skip: u128,
        is_sensitive_key: &mut dyn FnMut(&str) -> bool,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) -> bool {
        let on = self.enabled & !skip;
        let (want, escapes) = self.may_match(text);
        let want = want & (on | FLAG_BITS);
        if want & !(1 << IMEI_KEYWORD_BIT) == 0 && self.custom.iter().all(|c| c.gated) {
            return escapes;
        }
        self.run(text, want, on, is_sensitive_key, is_token, out);
        escapes
    }

    /// Runs the detectors of the rules in `want` (the gating pass's answer)
    /// and the custom rules that are `on` and ungated or gated in. Inlined
    /// into [`Detectors::find`], where it was written: a pure split for
    /// reading, not a new call per string.
    #[inline(always)]
    fn run(
        &self,
        text: &[u8],
        want: u128,
        on: u128,
        is_sensitive_key: &mut dyn FnMut(&str) -> bool,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
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
            | 1 << VENDOR
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
        if has(BASIC) {
            self.basic_auth(text, out);
        }
        if has(CARD) {
            self.cards(text, out);
        }
        if has(IBAN) {
            self.ibans(text, out);
        }
        if has(IMEI) {
            self.imeis(text, want >> IMEI_KEYWORD_BIT & 1 != 0, out);
        }
        if has(SSN) {
            self.ssns(text, out);
        }
        if has(PHONE) {
            self.phones(text, out);
        }
        if want & (1 << PHONE_MORE_BIT | 1 << PHONE_WORD_BIT) != 0 && on >> PHONE & 1 != 0 {
            self.more_phones(
                text,
                want >> PHONE_MORE_BIT & 1 != 0,
                want >> PHONE_WORD_BIT & 1 != 0,
                out,
            );
        }
        if has(MAC) {
            self.macs(text, out);
        }
        if has(HOME_USER) {
            self.home_users(text, out);
        }
        if has(PASSWORD_TEXT) {
            self.passwords(text, is_token, out);
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

/// `\w` in ASCII: the bytes a `\b` boundary separates from the rest.
#[inline(always)]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Is `start..end` free of a glued-on word or id (`70f856c7-0482-4891-8056-...`
/// is a UUID, not a phone number)?
fn isolated(text: &[u8], start: usize, end: usize) -> bool {
    let glue = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    (start == 0 || !glue(&text[start - 1])) && !text.get(end).is_some_and(glue)
}

/// xorshift64: deterministic random inputs for the families' tests, without
/// a dependency.
#[cfg(test)]
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Random short texts over number, separator and letter bytes (and bytes
/// >= 0x80), for holding the word-at-a-time scans to their byte loops.
#[cfg(test)]
fn scan_texts() -> impl Iterator<Item = Vec<u8>> {
    const ALPHABETS: &[&[u8]] = &[
        b"0123456789.- /a_",
        b"00123.-9x",
        b"0123456789=+/_aZ.\x80 ",
        b"DEGB0123 -./Z@\xc3",
    ];
    let mut x = 0x0123_4567_89AB_CDEFu64;
    (0..30_000).map(move |n| {
        let alphabet = ALPHABETS[n % ALPHABETS.len()];
        let len = (next(&mut x) % 40) as usize;
        (0..len)
            .map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize])
            .collect()
    })
}
