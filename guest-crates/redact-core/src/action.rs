//! What a rule does to what it found: remove, mask, replace, or hash into a
//! deterministic HMAC-SHA256 token that carries its key version.

use sha2::{Digest, Sha256};

/// One rule's action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Delete: the attribute (key rules) or the matched text (value rules).
    Remove,
    /// `****` followed by the last `keep_last` characters (e.g. `****1111`).
    /// The stars are fixed so the length of the original does not leak.
    Mask {
        /// Characters kept at the end.
        keep_last: usize,
    },
    /// A fixed string.
    Replace(String),
    /// `tok_v<version>_<16 hex>`: HMAC-SHA256 of the value under the current
    /// key, so equal values give equal tokens and join across spans.
    Hash,
    /// A keyed, deterministic stand-in of the same shape (an email stays an
    /// email, a card number keeps its issuer prefix and Luhn validity): see
    /// [`crate::pseudonym`]. Needs the hash key.
    Pseudonymize,
}

impl Action {
    /// The YAML spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Remove => "remove",
            Action::Mask { .. } => "mask",
            Action::Replace(_) => "replace",
            Action::Hash => "hash",
            Action::Pseudonymize => "pseudonymize",
        }
    }
}

/// HMAC-SHA256 with the inner and outer pads absorbed once, so a token costs
/// two compressions plus the message.
#[derive(Clone)]
pub struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    /// RFC 2104 keying.
    pub fn new(key: &[u8]) -> Self {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        Hmac {
            inner: Sha256::new_with_prefix(&ipad),
            outer: Sha256::new_with_prefix(&opad),
        }
    }

    /// The MAC of `msg`.
    pub fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let inner = self.inner.clone().chain_update(msg).finalize();
        self.outer.clone().chain_update(inner).finalize().into()
    }
}

/// The hash action's keys: the current version that new tokens use, and
/// every configured version whose tokens are recognized and left alone.
#[derive(Clone)]
pub struct Tokenizer {
    version: u32,
    hmac: Hmac,
    known: Vec<u32>,
}

impl Tokenizer {
    /// A tokenizer that writes `version` tokens with `key` and recognizes
    /// tokens of every version in `known`.
    pub fn new(version: u32, key: &[u8], mut known: Vec<u32>) -> Self {
        if !known.contains(&version) {
            known.push(version);
        }
        Tokenizer {
            version,
            hmac: Hmac::new(key),
            known,
        }
    }

    /// `tok_v<version>_<first 8 bytes of the MAC, hex>`.
    pub fn token(&self, value: &[u8]) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mac = self.hmac.mac(value);
        let mut out = format!("tok_v{}_", self.version);
        for b in &mac[..8] {
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
        out
    }

    /// The shape-keeping pseudonym of `value`, found by rule `rule`.
    pub fn pseudonym(&self, rule: &str, value: &str) -> String {
        crate::pseudonym::pseudonymize(&self.hmac, rule, value)
    }

    /// Is `s` exactly a token of a configured version? Rotation keeps old
    /// tokens: a value that already is a token is never tokenized again.
    pub fn is_token(&self, s: &[u8]) -> bool {
        token_version(s).is_some_and(|v| self.known.contains(&v))
    }
}

/// The version of a `tok_v<N>_<16 hex>` string, if `s` has that shape.
pub fn token_version(s: &[u8]) -> Option<u32> {
    let rest = s.strip_prefix(b"tok_v")?;
    let us = rest.iter().position(|b| *b == b'_')?;
    let (ver, hex) = (&rest[..us], &rest[us + 1..]);
    if ver.is_empty() || ver.len() > 6 || !ver.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if hex.len() != 16 || !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    std::str::from_utf8(ver).ok()?.parse().ok()
}

/// Applies `action` to `value`, which rule `rule` found, appending the
/// result to `out`. `Remove` appends nothing.
pub fn render(
    action: &Action,
    rule: &str,
    value: &str,
    tokenizer: Option<&Tokenizer>,
    out: &mut String,
) {
    match action {
        Action::Remove => {}
        Action::Mask { keep_last } => {
            out.push_str("****");
            let n = value.chars().count();
            out.extend(value.chars().skip(n.saturating_sub(*keep_last)));
        }
        Action::Replace(with) => out.push_str(with),
        Action::Hash => match tokenizer {
            Some(t) => out.push_str(&t.token(value.as_bytes())),
            // Configuration refuses a hash rule without a key; this is only
            // reachable through the API, and failing closed beats leaking.
            None => out.push_str("[REDACTED]"),
        },
        Action::Pseudonymize => match tokenizer {
            Some(t) => out.push_str(&t.pseudonym(rule, value)),
            None => out.push_str("[REDACTED]"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = Hmac::new(b"Jefe").mac(b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_are_deterministic_versioned_and_recognized() {
        let t2 = Tokenizer::new(2, b"0123456789abcdef-two", vec![1]);
        let a = t2.token(b"alice@example.com");
        assert_eq!(a, t2.token(b"alice@example.com"));
        assert!(a.starts_with("tok_v2_") && a.len() == "tok_v2_".len() + 16);
        assert!(t2.is_token(a.as_bytes()));
        let t1 = Tokenizer::new(1, b"0123456789abcdef-one", vec![]);
        let old = t1.token(b"alice@example.com");
        assert_ne!(old, a);
        assert!(t2.is_token(old.as_bytes()), "rotation keeps v1 tokens");
        assert!(!t2.is_token(b"tok_v3_0123456789abcdef"));
    }

    #[test]
    fn mask_keeps_the_tail() {
        let mut out = String::new();
        render(
            &Action::Mask { keep_last: 4 },
            "card",
            "4111 1111 1111 1234",
            None,
            &mut out,
        );
        assert_eq!(out, "****1234");
    }
}
