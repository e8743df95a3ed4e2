//! The rule engine of the first-party `redact` processor.
//!
//! Plain Rust with no WASM dependency, so the same code runs inside the
//! guest (`guest-crates/guests/redact`) and natively (unit tests and the
//! guest-vs-native benchmark). The guest walks a batch and asks this crate,
//! per attribute:
//!
//! 1. [`Engine::key_verdict`]: is the key allow-listed (never touched), held
//!    by a key rule (the whole value is sensitive), or scanned?
//! 2. [`Engine::redact_text`]: for scanned strings, find every value rule's
//!    matches (prefiltered: see [`detect`]), resolve overlaps by rule
//!    priority, and render each match with its rule's [`Action`].
//! 3. [`Engine::defuse`]: for log bodies and exception messages, neutralize
//!    prompt-injection text ([`inject`]).
//!
//! Counts per rule accumulate in [`Hits`], which the guest reports through
//! the host's counters and, optionally, a summary attribute.

pub mod action;
pub mod bench_input;
pub mod config;
pub mod detect;
pub mod form;
pub mod inject;
pub mod keys;
mod keywords;
pub mod pseudonym;
mod swar;
pub mod validate;

use std::cell::RefCell;

pub use action::{Action, Tokenizer};
pub use config::ConfigError;
pub use inject::Kind as InjectionKind;

use config::Parsed;
use detect::{BUILTIN_VALUE_RULES, CustomDetector, Detectors, Match};
use keys::{AllowList, KeyPattern};

/// What to do with an attribute, decided by its key alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyVerdict {
    /// On the allow-list: never touched.
    Allow,
    /// A key rule holds it: the whole value is sensitive.
    Rule(usize),
    /// Scan the value.
    Scan {
        /// Value rules not to run for this key, a bit per rule id (only
        /// built-in rules, whose ids are below 64, are ever skipped). A
        /// `u64` and not the `u128` of [`Engine::redact_text`]: the verdict
        /// is copied out of the key cache for every attribute.
        skip: u64,
        /// Whether strings under this key are defused (prompt injection
        /// defusal is on and the key is one of its keys): decided with the
        /// rest of the verdict, once per key, not per attribute.
        defuse: bool,
        /// Whether matches are pseudonymized (the key carries a request
        /// input a replay needs, see `pseudonymize_keys`, and a hash key is
        /// configured), except for rules given an action of their own.
        pseudo: bool,
    },
}

/// What a key rule does to a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Remove the attribute.
    Remove,
    /// Set the value to this string.
    Set(String),
    /// Already a token of a configured version: leave it.
    Keep,
}

/// Per-rule counts of one call.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    /// Values redacted, indexed by rule id.
    pub by_rule: Vec<u64>,
    /// Strings defused.
    pub defused: u64,
}

impl Hits {
    fn add(&mut self, rule: usize) {
        if self.by_rule.len() <= rule {
            self.by_rule.resize(rule + 1, 0);
        }
        self.by_rule[rule] += 1;
    }
}

/// The compiled configuration.
pub struct Engine {
    names: Vec<String>,
    actions: Vec<Action>,
    /// Whether the rule's action was set on the rule itself (it then wins
    /// over `pseudonymize_keys`).
    explicit: Vec<bool>,
    prio: Vec<u32>,
    det: Detectors,
    key_rules: Vec<(usize, Vec<KeyPattern>)>,
    allow: AllowList,
    pseudo_keys: AllowList,
    tokenizer: Option<Tokenizer>,
    defuser: Option<inject::Defuser>,
    defuse_keys: Vec<String>,
    summary: bool,
    cache: RefCell<KeyCache>,
    /// Buffers reused across calls: the matches of the string being
    /// redacted, and the words of the key being judged (apart: judging a
    /// key inside a string happens while the matches are borrowed).
    matches: RefCell<Vec<Match>>,
    words: RefCell<Vec<String>>,
}

/// What [`Engine::render`] replaces in: the text, and the matches found in
/// its decoded view ([`form::View`]) with their spans there.
struct Found<'a> {
    text: &'a str,
    view: Option<&'a form::View>,
    decoded: &'a [(Match, usize, usize)],
}

impl Found<'_> {
    /// The decoded value of `m`, when it was found in the decoded view.
    fn decoded_value(&self, m: &Match) -> Option<(&form::View, &str)> {
        let view = self.view?;
        let &(_, start, end) = self.decoded.iter().find(|(d, _, _)| d == m)?;
        Some((view, view.text.get(start..end)?))
    }
}

/// The key-verdict cache: direct-mapped, `1 << CACHE_BITS` slots, a slot
/// picked from the key's length and its first, middle and last eight bytes
/// (no hash over the whole key: attribute keys are short and few, and
/// hashing them cost about as much as the lookup saves), and verified by
/// comparing the key. A colliding key replaces the slot's; the verdict is a
/// function of the key alone, so a miss only costs its recomputation, and
/// memory stays bounded whatever the keys.
struct KeyCache {
    slots: Vec<Slot>,
}

const CACHE_BITS: u32 = 10;

#[derive(Clone)]
struct Slot {
    /// The key's length, `usize::MAX` for an empty slot.
    len: usize,
    /// First, middle (see [`KeyCache::mid`]) and last eight bytes of the
    /// key (zero-padded when shorter): for keys of at most 24 bytes, with
    /// `len`, the whole key.
    head: u64,
    mid: u64,
    tail: u64,
    key: Box<[u8]>,
    verdict: KeyVerdict,
}

/// The key's first and last eight bytes, little-endian, zero-padded when
/// the key is shorter (read without a copy into a buffer: that is a
/// `memory.copy` call in wasm).
#[inline(always)]
fn head_tail(k: &[u8]) -> (u64, u64) {
    match (k.first_chunk::<8>(), k.last_chunk::<8>()) {
        (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
        _ => {
            let mut w = 0u64;
            for (i, b) in k.iter().enumerate() {
                w |= u64::from(*b) << (8 * i);
            }
            (w, w)
        }
    }
}

/// `a == b` over their whole eight-byte words, for slices of equal length
/// whose last eight bytes are already known equal (the tail covers the
/// rest); word compares instead of a `memcmp` call, which in wasm is a byte
/// loop.
#[inline(always)]
fn same_words(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Indexed reads: a `zip` of `chunks_exact` was a call and two
    // iterators built in memory in the guest, for two or three words.
    let w = |c: &[u8], at: usize| {
        c.get(at..)
            .and_then(|c| c.first_chunk::<8>())
            .map_or(0, |c| u64::from_le_bytes(*c))
    };
    let mut at = 0;
    while at + 8 <= a.len() {
        if w(a, at) != w(b, at) {
            return false;
        }
        at += 8;
    }
    true
}

impl KeyCache {
    fn new() -> Self {
        let empty = Slot {
            len: usize::MAX,
            head: 0,
            mid: 0,
            tail: 0,
            key: Box::default(),
            verdict: KeyVerdict::Allow,
        };
        KeyCache {
            slots: vec![empty; 1 << CACHE_BITS],
        }
    }

    /// Eight bytes around the middle of a key longer than 16 bytes (zero
    /// for shorter keys): with the first and last eight, for keys of up to
    /// 24 bytes, the whole key.
    #[inline(always)]
    fn mid(k: &[u8]) -> u64 {
        let n = k.len();
        if n > 16 {
            k.get(n / 2 - 4..)
                .and_then(|m| m.first_chunk::<8>())
                .map_or(0, |m| u64::from_le_bytes(*m))
        } else {
            0
        }
    }

    #[inline(always)]
    fn slot(n: usize, head: u64, mid: u64, tail: u64) -> usize {
        // Keys longer than 16 bytes also mix in eight middle bytes, so keys
        // that differ only there (`app.a.x.value`, `app.b.x.value`, ...) do
        // not all share one slot.
        let h = (head ^ tail.rotate_left(23) ^ mid.rotate_left(41) ^ n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - CACHE_BITS)) as usize
    }

    #[inline(always)]
    fn get(&self, k: &[u8]) -> Option<KeyVerdict> {
        let (head, tail) = head_tail(k);
        let mid = Self::mid(k);
        let s = self.slots.get(Self::slot(k.len(), head, mid, tail))?;
        // For keys of up to 24 bytes (most attribute keys), length, head,
        // middle and tail are the key: no loop over its words.
        let hit = s.len == k.len()
            && s.head == head
            && s.tail == tail
            && s.mid == mid
            && (k.len() <= 24 || same_words(&s.key, k));
        hit.then_some(s.verdict)
    }

    fn put(&mut self, k: &[u8], verdict: KeyVerdict) {
        let (head, tail) = head_tail(k);
        let mid = Self::mid(k);
        if let Some(s) = self.slots.get_mut(Self::slot(k.len(), head, mid, tail)) {
            *s = Slot {
                len: k.len(),
                head,
                mid,
                tail,
                key: k.into(),
                verdict,
            };
        }
    }
}

impl Engine {
    /// Builds the engine from the `config:` block (JSON) and the granted
    /// data blobs. Errors name the YAML path and the rule.
    pub fn from_json(
        json: &str,
        blob: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<Self, ConfigError> {
        let p: Parsed = config::parse(json, blob)?;
        let mut names = Vec::new();
        let mut actions = Vec::new();
        let mut explicit = Vec::new();
        let mut prio = Vec::new();
        let mut enabled: u128 = 0;
        let render_default = |spec: &config::RuleSpec, builtin_default: Option<Action>| -> Action {
            let a = spec
                .action
                .clone()
                .or_else(|| p.default_action.clone())
                .or(builtin_default)
                .unwrap_or(Action::Replace(String::new()));
            match a {
                Action::Replace(w) if w.is_empty() => {
                    Action::Replace(format!("[REDACTED:{}]", spec.name))
                }
                a => a,
            }
        };
        for (i, spec) in p.builtins.iter().enumerate() {
            let builtin_default = (spec.name == "card").then_some(Action::Mask { keep_last: 4 });
            names.push(spec.name.clone());
            actions.push(render_default(spec, builtin_default));
            explicit.push(spec.action.is_some());
            // Built-ins keep their table order; custom value rules slot in
            // after the vendor tokens and before the generic classes.
            prio.push(if i < detect::id("email") {
                i as u32 * 10
            } else if i == detect::id("iban") {
                // Before `card`: an IBAN's account number may hold a
                // Luhn-valid run of card length, and masking that run alone
                // leaves the rest of the IBAN in clear.
                detect::id("card") as u32 * 10 + 95
            } else {
                i as u32 * 10 + 100
            });
            if spec.enabled {
                enabled |= 1 << i;
            }
        }
        let mut custom = Vec::new();
        let mut custom_kw = Vec::new();
        for c in p.custom {
            let id = names.len();
            if id >= 127 {
                return Err(config::err("custom_rules", "at most 100 custom rules"));
            }
            names.push(c.spec.name.clone());
            actions.push(render_default(&c.spec, None));
            explicit.push(c.spec.action.is_some());
            prio.push(detect::id("email") as u32 * 10 + 50);
            if c.spec.enabled {
                enabled |= 1 << id;
            }
            let gated = !c.keywords.is_empty();
            if gated {
                custom_kw.push((id, c.keywords.clone()));
            }
            custom.push(CustomDetector {
                rule: id,
                regex: c.regex,
                gated,
            });
        }
        let mut key_rules = Vec::new();
        let mut inline_words: Vec<String> = Vec::new();
        for k in p.key_rules {
            let id = names.len();
            names.push(k.spec.name.clone());
            actions.push(render_default(&k.spec, None));
            explicit.push(k.spec.action.is_some());
            prio.push(u32::MAX);
            if k.spec.enabled {
                for pat in &k.keys {
                    match pat {
                        KeyPattern::Words(w) => {
                            inline_words.extend(w.iter().filter(|w| w.len() >= 3).cloned())
                        }
                        KeyPattern::Glob(pre, suf) => {
                            for part in [pre, suf] {
                                let t = part.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                                if t.len() >= 3 {
                                    inline_words.push(t.to_owned());
                                }
                            }
                        }
                    }
                }
                key_rules.push((id, k.keys));
            }
        }
        inline_words.sort();
        inline_words.dedup();
        let mut det = Detectors::new(custom, &custom_kw, &inline_words);
        det.enabled = enabled;
        det.private_ips = p.redact_private_ips;
        det.min_entropy_len = p.min_entropy_len;
        let mut allow = AllowList::default();
        if p.default_allow_keys {
            for k in keys::DEFAULT_ALLOW {
                allow.add(k);
            }
        }
        for k in &p.allow_keys {
            allow.add(k);
        }
        let mut pseudo_keys = AllowList::default();
        for k in &p.pseudonymize_keys {
            pseudo_keys.add(k);
        }
        Ok(Engine {
            names,
            actions,
            explicit,
            prio,
            det,
            key_rules,
            allow,
            pseudo_keys,
            tokenizer: p.tokenizer,
            defuser: p.defuse.then(inject::Defuser::new),
            defuse_keys: p.defuse_keys,
            summary: p.summary,
            cache: RefCell::new(KeyCache::new()),
            matches: RefCell::new(Vec::new()),
            words: RefCell::new(Vec::new()),
        })
    }

    /// The name of rule `id` (for counters and the summary).
    pub fn rule_name(&self, id: usize) -> &str {
        self.names.get(id).map_or("unknown", String::as_str)
    }

    /// Number of rules (ids are `0..rule_count()`).
    pub fn rule_count(&self) -> usize {
        self.names.len()
    }

    /// Whether touched rows get the summary attributes.
    pub fn summary(&self) -> bool {
        self.summary
    }

    /// Decides what to do with attribute `key` (cached per key).
    #[inline(always)]
    pub fn key_verdict(&self, key: &str) -> KeyVerdict {
        if let Some(v) = self.cache.borrow().get(key.as_bytes()) {
            return v;
        }
        let v = self.compute_verdict(key);
        self.cache.borrow_mut().put(key.as_bytes(), v);
        v
    }

    /// The verdict without the cache (the cache's test oracle).
    pub(crate) fn compute_verdict(&self, key: &str) -> KeyVerdict {
        let lower = key.to_ascii_lowercase();
        if self.allow.allows(&lower) {
            return KeyVerdict::Allow;
        }
        let mut words = self.words.borrow_mut();
        let words = &mut *words;
        keys::split_words(key, words);
        for (id, pats) in &self.key_rules {
            if pats.iter().any(|p| p.matches(&lower, words)) {
                return KeyVerdict::Rule(*id);
            }
        }
        // Under a version key a dotted quad is a version, not an address.
        const IPV4: usize = detect::id("ipv4");
        const _: () = assert!(IPV4 < 64, "KeyVerdict::Scan's skip holds rule ids below 64");
        let skip = if words.iter().any(|w| w == "version" || w == "ver") {
            1u64 << IPV4
        } else {
            0
        };
        KeyVerdict::Scan {
            skip,
            defuse: self.defuses_key(key),
            pseudo: self.tokenizer.is_some() && self.pseudo_keys.allows(&lower),
        }
    }

    /// Applies key rule `rule` to a whole value (`value` is its text form).
    pub fn apply_key_rule(&self, rule: usize, value: &str, hits: &mut Hits) -> KeyOutcome {
        if self.is_token(value.as_bytes()) {
            return KeyOutcome::Keep;
        }
        hits.add(rule);
        match &self.actions[rule] {
            Action::Remove => KeyOutcome::Remove,
            Action::Pseudonymize if pseudonym::is_pseudonym_email(value) => KeyOutcome::Keep,
            a => {
                let mut out = String::new();
                action::render(
                    a,
                    self.rule_name(rule),
                    value,
                    self.tokenizer.as_ref(),
                    &mut out,
                );
                KeyOutcome::Set(out)
            }
        }
    }

    /// Is `s` a token of a configured key version?
    pub fn is_token(&self, s: &[u8]) -> bool {
        match &self.tokenizer {
            Some(t) => t.is_token(s),
            None => action::token_version(s).is_some(),
        }
    }

    /// Redacts every value-rule match inside `text`; `None` when nothing
    /// matched. `touched` gets the ids of the rules that fired. `pseudo`
    /// (from [`KeyVerdict::Scan`]) pseudonymizes the matches of every rule
    /// without an action of its own.
    pub fn redact_text(
        &self,
        text: &str,
        skip: u128,
        pseudo: bool,
        hits: &mut Hits,
        touched: &mut Vec<usize>,
    ) -> Option<String> {
        let mut matches = self.matches.borrow_mut();
        matches.clear();
        let is_token = |s: &[u8]| self.is_token(s);
        let mut sensitive = |k: &str| matches!(self.key_verdict(k), KeyVerdict::Rule(_));
        let escapes = self.det.find(
            text.as_bytes(),
            skip,
            &mut sensitive,
            &is_token,
            &mut matches,
        );
        // Without a `%` or a `+` there is nothing to decode: returned here,
        // before the view and its buffers exist (dropping them, empty, was
        // a call per string in the guest).
        if !escapes {
            if matches.is_empty() {
                return None;
            }
            let found = Found {
                text,
                view: None,
                decoded: &[],
            };
            return Some(self.render(&found, &mut matches, pseudo, hits, touched));
        }
        // Percent- and form-encoded text (a query string, a form body) is
        // scanned decoded too: `%2B49+30+90182736` is a phone number.
        let view = form::View::of(text);
        let mut decoded = Vec::new();
        if let Some(v) = &view {
            self.find_decoded(v, skip, &mut matches, &mut decoded);
        }
        if matches.is_empty() {
            None
        } else {
            let found = Found {
                text,
                view: view.as_ref(),
                decoded: &decoded,
            };
            Some(self.render(&found, &mut matches, pseudo, hits, touched))
        }
    }

    /// The matches found in the decoded view `v` of a text and not in the
    /// text as it is, moved to the text's offsets (appended to `matches`),
    /// with their spans in the view (`decoded`). Out of line and cold: most
    /// strings have nothing to decode.
    #[cold]
    #[inline(never)]
    fn find_decoded(
        &self,
        v: &form::View,
        skip: u128,
        matches: &mut Vec<Match>,
        decoded: &mut Vec<(Match, usize, usize)>,
    ) {
        let is_token = |s: &[u8]| self.is_token(s);
        let mut sensitive = |k: &str| matches!(self.key_verdict(k), KeyVerdict::Rule(_));
        let plain = matches.len();
        let mut found = Vec::new();
        self.det.find(
            v.text.as_bytes(),
            skip,
            &mut sensitive,
            &is_token,
            &mut found,
        );
        for m in found {
            let (start, end) = v.original(m.start, m.end);
            let at = Match {
                start,
                end,
                rule: m.rule,
            };
            // Found in the text as it is already: rendered from there.
            if !matches[..plain].contains(&at) {
                matches.push(at);
                decoded.push((at, m.start, m.end));
            }
        }
    }

    fn render(
        &self,
        found: &Found<'_>,
        matches: &mut [Match],
        pseudo: bool,
        hits: &mut Hits,
        touched: &mut Vec<usize>,
    ) -> String {
        let text = found.text;
        // Highest priority first; a match overlapping an accepted one is
        // dropped (e.g. the email-shaped `pass@host` of a URL password).
        matches.sort_by_key(|m| (self.prio[m.rule], m.start, usize::MAX - m.end));
        let mut accepted: Vec<Match> = Vec::with_capacity(matches.len());
        for m in matches.iter() {
            if !accepted.iter().any(|a| m.start < a.end && a.start < m.end) {
                accepted.push(*m);
            }
        }
        accepted.sort_by_key(|m| m.start);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in accepted {
            // Matches are on ASCII boundaries by construction; a non-char
            // boundary would come from a malformed custom pattern: skip it.
            let (Some(before), Some(hit)) = (text.get(at..m.start), text.get(m.start..m.end))
            else {
                continue;
            };
            out.push_str(before);
            let act = if pseudo && !self.explicit[m.rule] {
                &Action::Pseudonymize
            } else {
                &self.actions[m.rule]
            };
            match found.decoded_value(&m) {
                // Rendered from the decoded value (equal values, equal
                // tokens, however encoded), then encoded for its place.
                Some((view, value)) => {
                    let mut plain = String::new();
                    action::render(
                        act,
                        self.rule_name(m.rule),
                        value,
                        self.tokenizer.as_ref(),
                        &mut plain,
                    );
                    view.encode(m.start, &plain, &mut out);
                }
                None => action::render(
                    act,
                    self.rule_name(m.rule),
                    hit,
                    self.tokenizer.as_ref(),
                    &mut out,
                ),
            }
            hits.add(m.rule);
            if !touched.contains(&m.rule) {
                touched.push(m.rule);
            }
            at = m.end;
        }
        out.push_str(text.get(at..).unwrap_or(""));
        out
    }

    /// Should strings under attribute `key` be defused? (Log bodies always
    /// are, when defusal is on.)
    #[inline]
    pub fn defuses_key(&self, key: &str) -> bool {
        self.defuser.is_some() && self.defuse_keys.iter().any(|k| k == key)
    }

    /// Defuses prompt-injection text; `None` when there is none or defusal
    /// is off.
    pub fn defuse(&self, text: &str, hits: &mut Hits) -> Option<(String, Vec<InjectionKind>)> {
        let r = self.defuser.as_ref()?.defuse(text)?;
        hits.defused += 1;
        Some(r)
    }

    /// All built-in value rule names.
    pub fn builtin_rules() -> &'static [&'static str] {
        BUILTIN_VALUE_RULES
    }
}

#[cfg(test)]
mod tests;
