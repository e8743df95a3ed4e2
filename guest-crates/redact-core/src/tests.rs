//! Engine tests: one per trap the issue names, plus config errors. Secret-
//! shaped inputs are assembled at run time so no scanner flags this file.

use super::*;

fn engine(cfg: &str) -> Engine {
    Engine::from_json(cfg, &|_| None).expect("config")
}

fn red(e: &Engine, text: &str) -> String {
    let mut hits = Hits::default();
    let mut touched = Vec::new();
    e.redact_text(text, 0, false, &mut hits, &mut touched)
        .unwrap_or_else(|| text.to_owned())
}

fn alnum(n: usize, seed: u64) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            A[(x % 62) as usize] as char
        })
        .collect()
}

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| validate::luhn(s.as_bytes()))
        .expect("one digit completes")
}

#[test]
fn token_key_rule_spares_token_counts() {
    let e = engine("{}");
    assert!(matches!(e.key_verdict("access_token"), KeyVerdict::Rule(_)));
    assert!(matches!(
        e.key_verdict("http.request.header.authorization"),
        KeyVerdict::Rule(_)
    ));
    assert_eq!(
        e.key_verdict("gen_ai.usage.input_tokens"),
        KeyVerdict::Allow
    );
    assert!(matches!(
        e.key_verdict("llm.usage.input_tokens"),
        KeyVerdict::Scan { .. }
    ));
    assert!(matches!(
        e.key_verdict("llm.token_count.prompt"),
        KeyVerdict::Scan { .. }
    ));
    assert_eq!(e.key_verdict("trace_id"), KeyVerdict::Allow);
}

#[test]
fn ids_shas_uuids_versions_timestamps_pass() {
    let e = engine("{}");
    for s in [
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 deployed",
        "request 550e8400-e29b-41d4-a716-446655440000 done",
        "agent version 1.2.3.4 started, kernel 5.15.0.1",
        "ts=1700000000123 ns=1700000000123456789 at 2024-01-15T10:23:45.123Z",
        "color #1a2b3c and v2.14.3-rc.1 in pod checkout-service-7d9f8b6c4-x2kzp",
        "order 4111111111111112 shipped",
    ] {
        assert_eq!(red(&e, s), s);
    }
}

#[test]
fn cards_with_and_without_separators() {
    let e = engine("{}");
    let card = luhn_complete("411111111111111");
    assert_eq!(
        red(&e, &format!("paid with {card}.")),
        format!("paid with ****{}.", &card[12..])
    );
    let spaced = format!(
        "{} {} {} {}",
        &card[..4],
        &card[4..8],
        &card[8..12],
        &card[12..]
    );
    assert_eq!(
        red(&e, &format!("card {spaced} 12 items")),
        format!("card ****{} 12 items", &card[12..])
    );
    let amex = luhn_complete("37828224631000");
    assert!(!red(&e, &amex).contains(&amex));
}

#[test]
fn ibans_with_spaces_ssn_and_phones() {
    let e = engine("{}");
    let iban = ["GB82", "WEST", "1234", "5698", "7654", "32"];
    let spaced = format!("to {} EUR", iban.join(" "));
    assert_eq!(red(&e, &spaced), "to [REDACTED:iban] EUR");
    assert_eq!(red(&e, &iban.concat()), "[REDACTED:iban]");
    assert_eq!(red(&e, "ssn 219-09-9999 ok"), "ssn [REDACTED:ssn] ok");
    assert_eq!(red(&e, "ssn 666-09-9999"), "ssn 666-09-9999");
    for p in [
        "+14155552671",
        "+1 415-555-2671",
        "(415) 555-2671",
        "415.555.2671",
        "020 7946 0958",
        "+44 20 7946 0958",
        "01 23 45 67 89",
        "030 12345678",
    ] {
        assert_eq!(
            red(&e, &format!("call {p} now")),
            "call [REDACTED:phone] now",
            "{p}"
        );
    }
    assert_eq!(red(&e, "on 05/12/2023 at 10:23"), "on 05/12/2023 at 10:23");
    // An IBAN whose account number holds a Luhn-valid run of card length
    // (from the taxonomy corpus): the IBAN wins, whole.
    let pl = ["PL91", "6841", "4671", "3603", "0237", "5772", "9430"].join(" ");
    assert!(validate::luhn(pl[5..24].replace(' ', "").as_bytes()));
    assert_eq!(red(&e, &format!("iban {pl}")), "iban [REDACTED:iban]");
}

#[test]
fn ips_public_private_and_versions() {
    let e = engine("{}");
    assert_eq!(red(&e, "from 203.0.113.7:443"), "from [REDACTED:ipv4]:443");
    assert_eq!(red(&e, "from 10.1.2.3"), "from 10.1.2.3");
    assert_eq!(
        red(&e, "Chrome/120.0.0.1 v1.2.3.4"),
        "Chrome/120.0.0.1 v1.2.3.4"
    );
    assert_eq!(
        red(&e, "peer 2001:db8::8a2e:370:7334 closed"),
        "peer [REDACTED:ipv6] closed"
    );
    assert_eq!(
        red(&e, "peer fe80::1 at 10:23:45"),
        "peer fe80::1 at 10:23:45"
    );
    let e = engine(r#"{"redact_private_ips": true}"#);
    assert_eq!(red(&e, "from 10.1.2.3"), "from [REDACTED:ipv4]");
    let mut hits = Hits::default();
    let e = engine("{}");
    let KeyVerdict::Scan { skip, .. } = e.key_verdict("os.version.full") else {
        panic!()
    };
    assert!(
        e.redact_text("8.8.4.4", skip.into(), false, &mut hits, &mut Vec::new())
            .is_none()
    );
}

#[test]
fn vendor_tokens_and_keys() {
    let e = engine("{}");
    let b64 = |s: &str| {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = c.iter().fold(0u32, |a, x| a << 8 | u32::from(*x)) << (8 * (3 - c.len()));
            for i in 0..=c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    };
    let jwt = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"HS256"}"#),
        b64(r#"{"sub":"42"}"#),
        alnum(43, 1)
    );
    let cases = [
        (jwt.clone(), "jwt"),
        (
            format!("{}{}", ["AK", "IA"].concat(), alnum(16, 2).to_uppercase()),
            "aws_access_key",
        ),
        (
            format!("{}_{}", ["gh", "p"].concat(), alnum(36, 3)),
            "github_token",
        ),
        (
            format!("{}-{}", ["gl", "pat"].concat(), alnum(20, 4)),
            "gitlab_token",
        ),
        (
            format!(
                "{}-{}-{}",
                ["xo", "xb"].concat(),
                "1234567890",
                alnum(24, 5)
            ),
            "slack_token",
        ),
        (
            format!("{}_{}", ["sk", "_live"].concat(), alnum(24, 6)),
            "stripe_key",
        ),
        (
            format!("{}{}", ["AI", "za"].concat(), alnum(35, 7)),
            "google_api_key",
        ),
    ];
    for (secret, rule) in cases {
        let out = red(&e, &format!("got {secret} here"));
        assert_eq!(out, format!("got [REDACTED:{rule}] here"), "{rule}");
    }
    let sk = format!("{}/{}", alnum(20, 8), alnum(19, 9));
    assert_eq!(
        red(&e, &format!("AWS_SECRET_ACCESS_KEY={sk}")),
        "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key]"
    );
    assert_eq!(
        red(&e, &format!("Authorization: Bearer {}", alnum(30, 10))),
        "Authorization: Bearer [REDACTED:bearer]"
    );
    let pem = format!(
        "-----BEGIN {}-----\n{}\n-----END {}-----",
        "RSA PRIVATE KEY",
        alnum(64, 11),
        "RSA PRIVATE KEY"
    );
    assert_eq!(
        red(&e, &format!("key: {pem} end")),
        "key: [REDACTED:private_key] end"
    );
    assert_eq!(
        red(&e, "postgres://app:s3cr3t-Pw@db.internal:5432/app"),
        "postgres://app:[REDACTED:url_password]@db.internal:5432/app"
    );
    assert_eq!(
        red(&e, "login password=hunter2 user=bob"),
        "login password=[REDACTED:inline_secret] user=bob"
    );
    assert_eq!(
        red(&e, "usage input_tokens=1532"),
        "usage input_tokens=1532"
    );
    let generic = alnum(32, 12);
    assert_eq!(
        red(&e, &format!("key {generic} rotated")),
        "key [REDACTED:high_entropy] rotated"
    );
}

#[test]
fn emails_and_hash_tokens_with_rotation() {
    let v1 = b"one-0123456789abcdef".to_vec();
    let v2 = b"two-0123456789abcdef\n".to_vec();
    let blob = move |n: &str| match n {
        "k1" => Some(v1.clone()),
        "k2" => Some(v2.clone()),
        _ => None,
    };
    let cfg = r#"{"hash": {"current": "v2", "keys": {"v2": "k2", "v1": "k1"}}, "rules": {"email": {"action": "hash"}}}"#;
    let e = Engine::from_json(cfg, &blob).expect("config");
    let out = red(&e, "mail bob@example.com and bob@example.com");
    let toks: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with("tok_v2_"))
        .collect();
    assert_eq!(toks.len(), 2);
    assert_eq!(toks[0], toks[1], "equal values join");
    let old = Tokenizer::new(1, b"one-0123456789abcdef", vec![]).token(b"x");
    let mut hits = Hits::default();
    let KeyVerdict::Rule(r) = e.key_verdict("password") else {
        panic!()
    };
    assert_eq!(e.apply_key_rule(r, &old, &mut hits), KeyOutcome::Keep);
    assert_eq!(red(&e, &format!("user {old}")), format!("user {old}"));
}

#[test]
fn config_errors_name_the_rule() {
    let bad = |cfg: &str| {
        Engine::from_json(cfg, &|_| None)
            .err()
            .expect("rejected")
            .to_string()
    };
    assert!(bad(r#"{"rules": {"emial": {}}}"#).contains("rules.emial: unknown rule `emial`"));
    let e = bad(r#"{"custom_rules": [{"name": "emp", "pattern": "EMP-(\\d{6}"}]}"#);
    assert!(
        e.contains("custom_rules[0] (emp).pattern: invalid regular expression"),
        "{e}"
    );
    let e = bad(r#"{"rules": {"email": {"action": "hash"}}}"#);
    assert!(
        e.contains("rule `email` hashes, but no key is configured"),
        "{e}"
    );
    let e = bad(r#"{"hash": {"current": "v1", "keys": {"v1": "missing"}}}"#);
    assert!(
        e.contains("hash.keys.v1: no data blob `missing` is granted"),
        "{e}"
    );
    assert!(
        bad(r#"{"rules": {"card": {"action": "mask", "with": "x"}}}"#).contains("rules.card.with")
    );
    assert!(bad(r#"{"colour": 1}"#).contains("config.colour: unknown key"));
}

#[test]
fn custom_and_key_rules() {
    let e = engine(
        r#"{"custom_rules": [{"name": "employee_id", "pattern": "EMP-\\d{6}", "keywords": ["EMP-"], "action": "replace", "with": "EMP-?"}],
            "key_rules": [{"name": "internal", "keys": ["x-internal-*"], "action": "remove"}]}"#,
    );
    assert_eq!(red(&e, "by EMP-123456 today"), "by EMP-? today");
    let KeyVerdict::Rule(r) = e.key_verdict("x-internal-user") else {
        panic!()
    };
    assert_eq!(e.rule_name(r), "internal");
    assert_eq!(
        e.apply_key_rule(r, "v", &mut Hits::default()),
        KeyOutcome::Remove
    );
}

/// The direct-mapped key-verdict cache answers exactly what the verdict
/// computation does, for keys of every length (short keys are compared by
/// their head and tail words alone), keys that differ in one byte anywhere,
/// keys sharing head, tail and length, many more keys than slots (so slots
/// are replaced), empty and non-ASCII keys, asked repeatedly in a shuffled
/// order so that hits, misses and replaced slots all occur.
#[test]
fn key_cache_agrees_with_the_verdict() {
    let e = engine(
        r#"{"key_rules":[{"name":"internal","keys":["x-internal-*","session id"]}],
            "allow_keys":["app.public.*"]}"#,
    );
    let base = [
        "",
        "a",
        "pwd",
        "token",
        "api_key",
        "password",
        "http.route",
        "x-internal-a",
        "app.public.password",
        "db.statement",
        "app.session_id",
        "http.request.header.x-auth-token",
        "user_agent.original",
        "network.peer.address",
        "gen_ai.usage.input_tokens",
        "service.version",
        "clé.secret",
    ];
    let mut keys: Vec<String> = base.iter().map(|k| (*k).to_owned()).collect();
    // Every one-byte change of every base key, at every position: these
    // share the length and most of the words the cache compares.
    for k in base {
        for i in 0..k.len() {
            for c in [b'x', b'.', b'T', b'0'] {
                let mut b = k.as_bytes().to_vec();
                if b[i] < 0x80 {
                    b[i] = c;
                    if let Ok(s) = String::from_utf8(b) {
                        keys.push(s);
                    }
                }
            }
        }
    }
    // Same length, head and tail, different middles (and secrets there).
    for m in ["token", "xxxxx", "secrt", "apikey", "cvv00"] {
        keys.push(format!("app.attrs.{m}.of.thing"));
    }
    // 32-byte keys that differ only in bytes 8..12 and 20..24, which the
    // slot choice does not read (head 0..8, middle 12..20, tail 24..32):
    // they share a slot, and only the full compare tells them apart.
    for w in [".pwd", ".pxd", ".abc"] {
        for v in ["p.qr", "p.pw"] {
            keys.push(format!("abcdefgh{w}.ijklmno{v}stuvwxyz"));
        }
    }
    for i in 0..3000 {
        keys.push(format!("app.attr{i}.value"));
        keys.push(format!("k{i}"));
    }
    let want: Vec<KeyVerdict> = keys.iter().map(|k| e.compute_verdict(k)).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..4 {
        for _ in 0..keys.len() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % keys.len() as u64) as usize;
            assert_eq!(e.key_verdict(&keys[i]), want[i], "{:?}", keys[i]);
        }
    }
    // The keys above do not all share one verdict: the test can tell.
    assert!(want.contains(&KeyVerdict::Allow));
    assert!(want.iter().any(|v| matches!(v, KeyVerdict::Rule(_))));
    assert!(want.contains(&KeyVerdict::Scan {
        skip: 0,
        defuse: false,
        pseudo: false
    }));
    assert!(
        want.iter()
            .any(|v| matches!(v, KeyVerdict::Scan { skip, .. } if *skip != 0))
    );
}

/// The verdict says whether a key's strings are defused, as configured:
/// the guest reads it from the cached verdict instead of asking per
/// attribute.
#[test]
fn verdict_carries_the_defuse_keys() {
    let defused =
        |e: &Engine, k: &str| matches!(e.key_verdict(k), KeyVerdict::Scan { defuse: true, .. });
    let e = engine("{}");
    assert!(defused(&e, "exception.message"));
    assert!(!defused(&e, "app.message"));
    let e = engine(r#"{"prompt_injection": {"keys": ["app.message"]}}"#);
    assert!(defused(&e, "app.message"));
    assert!(!defused(&e, "exception.message"));
    let e = engine(r#"{"prompt_injection": {"enabled": false}}"#);
    assert!(!defused(&e, "exception.message"));
    // Asked again, from the cache: the same answers.
    assert!(!defused(&e, "exception.message"));
}

fn keyed(cfg: &str) -> Engine {
    let blob = |n: &str| (n == "k1").then(|| b"one-0123456789abcdef".to_vec());
    Engine::from_json(cfg, &blob).expect("config")
}

fn red_under(e: &Engine, key: &str, text: &str) -> String {
    let KeyVerdict::Scan { skip, pseudo, .. } = e.key_verdict(key) else {
        panic!("{key} is not scanned")
    };
    let mut hits = Hits::default();
    e.redact_text(text, skip.into(), pseudo, &mut hits, &mut Vec::new())
        .unwrap_or_else(|| text.to_owned())
}

const HASH_KEY: &str = r#""hash": {"current": "v1", "keys": {"v1": "k1"}}"#;

/// The action by rule: an email stays an email, a card keeps issuer and
/// Luhn, equal values join, and a key rule pseudonymizes the whole value.
#[test]
fn pseudonymize_action_keeps_shapes() {
    let e = keyed(&format!(
        r#"{{{HASH_KEY}, "default_action": "pseudonymize"}}"#
    ));
    let card = luhn_complete("411111111111111");
    let out = red(
        &e,
        &format!("mail bob@corp.example.org, again bob@corp.example.org, card {card}"),
    );
    let words: Vec<&str> = out.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    assert!(words[1].ends_with("@example.com") && pseudonym::is_pseudonym_email(words[1]));
    assert_eq!(words[1], words[3], "equal values join: {out}");
    let c = words[5];
    assert!(
        c.len() == 16 && c.starts_with("411111") && c != card,
        "{out}"
    );
    assert!(validate::luhn(c.as_bytes()));
    let KeyVerdict::Rule(r) = e.key_verdict("user.email") else {
        panic!()
    };
    let KeyOutcome::Set(p) = e.apply_key_rule(r, "bob@corp.example.org", &mut Hits::default())
    else {
        panic!()
    };
    assert_eq!(p, words[1], "a key rule gives the same pseudonym");
    assert_eq!(
        e.apply_key_rule(r, &p, &mut Hits::default()),
        KeyOutcome::Keep,
        "ours stay"
    );
}

/// Request inputs (`pseudonymize_keys`) are pseudonymized whatever the
/// default action, unless a rule sets its own; without a hash key they keep
/// the rules' actions.
#[test]
fn input_keys_pseudonymize_by_default() {
    let q = "email=bob@corp.example.org&phone=%2B44+20+7946+0958";
    let e = keyed(&format!("{{{HASH_KEY}}}"));
    let out = red_under(&e, "url.query", q);
    assert!(
        out.starts_with("email=u_") && out.contains("@example.com&"),
        "{out}"
    );
    assert_eq!(
        red_under(&e, "app.note", "bob@corp.example.org"),
        "[REDACTED:email]"
    );
    // A query string's percent-encoded `@` is an address too, and joins.
    let enc = red_under(&e, "url.query", "ref=bob%40corp.example.org&n=1");
    assert_eq!(
        enc,
        format!(
            "ref={}&n=1",
            &out[6..out.find('&').unwrap_or(6)].replace('@', "%40")
        )
    );
    assert_eq!(
        red(&e, "ref=bob%40corp.example.org&n=1"),
        "ref=[REDACTED:email]&n=1"
    );
    let body = r#"{"card": "4111 1111 1111 1111", "note": "hi"}"#;
    let out = red_under(&e, "tracemend.http.request.body", body);
    assert!(
        out.starts_with(r#"{"card": "4111 11"#) && out.len() == body.len(),
        "{out}"
    );
    assert!(!out.contains("4111 1111 1111 1111"));
    assert!(red_under(&e, "http.request.header.x-forwarded-for", "8.8.4.4") != "8.8.4.4");

    let e = keyed(&format!(
        r#"{{{HASH_KEY}, "rules": {{"email": {{"action": "hash"}}}}}}"#
    ));
    assert!(red_under(&e, "url.query", q).starts_with("email=tok_v1_"));

    let e = keyed(&format!(
        r#"{{{HASH_KEY}, "pseudonymize_keys": ["app.input"]}}"#
    ));
    assert!(red_under(&e, "app.input", "bob@corp.example.org").ends_with("@example.com"));
    assert!(red_under(&e, "url.query", q).starts_with("email=[REDACTED:email]"));

    let e = engine("{}");
    assert!(red_under(&e, "url.query", q).starts_with("email=[REDACTED:email]"));
}

#[test]
fn pseudonymize_config_errors() {
    let bad = |cfg: &str| {
        Engine::from_json(cfg, &|_| None)
            .err()
            .expect("rejected")
            .to_string()
    };
    let e = bad(r#"{"rules": {"email": {"action": "pseudonymize"}}}"#);
    assert!(
        e.contains("rules.email.action: rule `email` pseudonymizes, but no key is configured"),
        "{e}"
    );
    let e = bad(r#"{"default_action": "pseudonymise"}"#);
    assert!(
        e.contains(
            "unknown action `pseudonymise` (expected remove, mask, replace, hash or pseudonymize)"
        ),
        "{e}"
    );
    let e = bad(r#"{"pseudonymize_keys": "url.query"}"#);
    assert!(
        e.contains("config.pseudonymize_keys: must be a list of strings"),
        "{e}"
    );
    let e = bad(r#"{"rules": {"card": {"action": "pseudonymize", "keep_last": 4}}}"#);
    assert!(
        e.contains("rules.card.keep_last: only applies to action mask"),
        "{e}"
    );
}

/// Issue 25's categories, with the shapes it names, and their hard
/// negatives.
#[test]
fn issue_25_categories_and_negatives() {
    let e = engine("{}");
    let gone = |text: &str, secret: &str| {
        let out = red(&e, text);
        assert!(!out.contains(secret), "{secret} left in {out:?}");
        out
    };
    let kept = |text: &str| assert_eq!(red(&e, text), text);
    for mac in ["a4:5e:60:d1:22:7f", "A4-5E-60-D1-22-7F", "a45e.60d1.227f"] {
        assert_eq!(
            gone(&format!("client {mac} joined"), mac),
            "client [REDACTED:mac] joined"
        );
    }
    assert_eq!(
        gone("open /home/alice/app/config.yml", "alice"),
        "open /home/[REDACTED:home_user]/app/config.yml"
    );
    gone("cwd /Users/alice", "alice");
    gone(r"C:\Users\alice\AppData\Local", "alice");
    let imei = luhn_complete("35209900176148");
    gone(&format!("IMEI: {imei}"), &imei);
    gone("handset 35-209900-176148-1 lost", "35-209900-176148-1");
    assert!(matches!(e.key_verdict("device.imei"), KeyVerdict::Rule(_)));
    gone("login failed for user with password hunter2", "hunter2");
    gone("pwd Tr0ub4dor&3 rejected", "Tr0ub4dor&3");
    gone("passphrase was 'correct horse'", "correct horse");
    for p in [
        "(0161) 496 0123",
        "(06221) 554321",
        "04931 524468",
        "+44 20 7946 0958",
        "001-415-555-0132",
        "415-555-0199x1234",
    ] {
        gone(&format!("call {p} now"), p);
    }
    let c19 = luhn_complete("453201511283036");
    let c19 = format!("{c19}123");
    let c19 = luhn_complete(&c19[..18]);
    let grouped = format!(
        "{}-{}-{}-{}-{}",
        &c19[..4],
        &c19[4..8],
        &c19[8..12],
        &c19[12..16],
        &c19[16..]
    );
    gone(&format!("card {grouped} declined"), &grouped);
    let card = luhn_complete("411111111111111");
    let dotted = format!(
        "{}.{}.{}.{}",
        &card[..4],
        &card[4..8],
        &card[8..12],
        &card[12..]
    );
    gone(&format!("card {dotted}"), &dotted);
    let mixed = format!(
        "{} {}-{} {}",
        &card[..4],
        &card[4..8],
        &card[8..12],
        &card[12..]
    );
    gone(&format!("card {mixed}"), &mixed);

    kept("driver 9.9.9.120 loaded");
    kept("sdk=7.1.22.39");
    kept("fingerprint a4:5e:60:d1:22:7f:00:11:22:33");
    kept("order 352099001761482 of 12 (no Luhn)");
    kept("order 352099001761481 shipped");
    kept("open /home/app/config.yml and /Users/Shared/x");
    kept("GET /api/users/42");
    kept("password reset email sent");
    kept("the password is incorrect");
}

/// A value a key rule marks inside a request body (`inline_secret`) is
/// pseudonymized by its form: a date stays a date of the same year.
#[test]
fn body_values_of_key_rules_keep_their_form() {
    let e = keyed(&format!(
        r#"{{{HASH_KEY}, "key_rules": [{{"name": "birth_date", "keys": ["birth date"]}}]}}"#
    ));
    let body = r#"{"email": "bob@corp.example.org", "birth_date": "1988-02-29"}"#;
    let out = red_under(&e, "tracemend.http.request.body", body);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
    let date = doc["birth_date"].as_str().unwrap_or_default();
    assert!(
        date.starts_with("1988-") && date.len() == 10 && date != "1988-02-29",
        "{out}"
    );
    assert!(
        doc["email"]
            .as_str()
            .is_some_and(pseudonym::is_pseudonym_email),
        "{out}"
    );
}

/// Percent- and form-encoded values (a query string, a form body) are
/// scanned decoded: `%2B49+30+90182736` is a phone number. The replacement
/// takes the encoded span and is encoded itself, so the query still parses
/// and a pseudonym decodes to a number of the same shape; a hash token is
/// the one the decoded value gets anywhere else.
#[test]
fn form_encoded_values_are_found_and_stay_encoded() {
    let e = engine("{}");
    assert_eq!(
        red(&e, "phone=%2B49+30+90182736&lang=de"),
        "phone=[REDACTED:phone]&lang=de"
    );
    for (t, kept) in [
        ("GET /cb?tel=0049+30+90182736&x=1 200", "GET /cb?tel="),
        ("q=%2B44%2020%207946%200958", "q="),
        ("iban=DE89+3704+0044+0532+0130+00", "iban="),
        ("card=4111%201111%201111%201111&n=2", "card="),
        ("/u?phone=%28030%29+1234567", "/u?phone="),
        ("tel=415-555-2671+ext.+12", "tel="),
    ] {
        let out = red(&e, t);
        let value = t[kept.len()..].split(['&', ' ']).next().unwrap_or("");
        let rest = out.strip_prefix(kept).unwrap_or("");
        assert!(
            rest.starts_with("[REDACTED:") || rest.starts_with("****"),
            "{t} -> {out}"
        );
        assert!(!out.contains(value), "{t} -> {out}");
    }
    // Not a query: `+` is a plus, and no decoding makes a number of these.
    for t in [
        "1+2+3+4+5+6+7+8",
        "/static/app+v2/x.js",
        "100%25 of 8 ok",
        "%zz%2",
    ] {
        assert_eq!(red(&e, t), t);
    }

    let e = keyed(&format!(
        r#"{{{HASH_KEY}, "rules": {{"phone": {{"action": "hash"}}}}}}"#
    ));
    let tok = red(&e, "+49 30 90182736");
    assert!(tok.starts_with("tok_v1_"), "{tok}");
    assert_eq!(red(&e, "phone=%2B49+30+90182736"), format!("phone={tok}"));
    assert_eq!(
        red(&e, "phone=%2B49%2030%2090182736"),
        format!("phone={tok}")
    );

    let e = keyed(&format!("{{{HASH_KEY}}}"));
    let out = red_under(&e, "url.query", "phone=%2B49+30+90182736&lang=de");
    let rest = out
        .strip_prefix("phone=%2B49+30+")
        .expect("country and area kept");
    let (num, tail) = rest.split_once('&').expect("the query parses");
    assert_eq!(tail, "lang=de");
    assert!(num.len() == 8 && num.bytes().all(|b| b.is_ascii_digit()) && num != "90182736");
    // The same number in a header gets the same pseudonym, decoded.
    assert_eq!(
        red_under(&e, "http.request.header.x-phone", "+49 30 90182736"),
        format!("+49 30 {num}")
    );
}
