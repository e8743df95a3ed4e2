//! Properties of every shape over generated inputs: the output has the
//! shape a validator checks, is deterministic, depends on the key, and is
//! never the input.

use super::*;

const KEY_A: &[u8] = b"0123456789abcdef-key-a";
const KEY_B: &[u8] = b"0123456789abcdef-key-b";

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn digits(x: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| (b'0' + (xorshift(x) % 10) as u8) as char)
        .collect()
}

fn with_luhn(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| validate::luhn(s.as_bytes()))
        .unwrap_or_default()
}

fn only_digits(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).collect()
}

/// Same positions of non-digits, digits where digits were.
fn same_skeleton(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            x.is_ascii_digit() == y.is_ascii_digit() && (x.is_ascii_digit() || x == y)
        })
}

/// Checks determinism, key dependence and never-the-input for one value,
/// and returns the pseudonym under key A.
fn common(rule: &str, v: &str) -> String {
    let (a, b) = (Hmac::new(KEY_A), Hmac::new(KEY_B));
    let p = pseudonymize(&a, rule, v);
    assert_eq!(p, pseudonymize(&a, rule, v), "deterministic: {v}");
    assert_ne!(p, v, "never the input: {rule} {v}");
    assert_ne!(p, pseudonymize(&b, rule, v), "depends on the key: {v}");
    p
}

#[test]
fn emails_become_reserved_domain_emails() {
    let mut x = 7u64;
    for i in 0..500 {
        let v = format!("user{}.{}@corp{}.example.org", digits(&mut x, 4), i, i % 7);
        let p = common("email", &v);
        assert!(is_email(&p) && p.ends_with("@example.com"), "{p}");
        assert!(is_pseudonym_email(&p));
        // Case does not make another person.
        assert_eq!(
            p,
            pseudonymize(&Hmac::new(KEY_A), "email", &v.to_uppercase())
        );
    }
    // Percent-encoded (a query string): the same person, the same spelling.
    let q = pseudonymize(&Hmac::new(KEY_A), "email", "Bob.K%40corp.example.org");
    let b = pseudonymize(&Hmac::new(KEY_A), "email", "bob.k@corp.example.org");
    assert_eq!(q, b.replace('@', "%40"));
    assert!(is_pseudonym_email(&q));
    // One of ours stays as it is.
    let p = pseudonymize(&Hmac::new(KEY_A), "email", "alice@example.org");
    assert_eq!(pseudonymize(&Hmac::new(KEY_A), "email", &p), p);
}

#[test]
fn cards_keep_length_issuer_separators_and_luhn() {
    let mut x = 11u64;
    let prefixes = ["4", "51", "2221", "34", "37", "6011", "35", "36"];
    let mut distinct = std::collections::HashSet::new();
    for i in 0..2000 {
        let pre = prefixes[i % prefixes.len()];
        let len = [16, 15, 16, 15, 15, 16, 16, 14, 19, 13][i % 10];
        let raw = with_luhn(&format!("{pre}{}", digits(&mut x, len - pre.len() - 1)));
        let v = match i % 4 {
            0 => raw.clone(),
            1 => raw
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" "),
            2 => raw
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap_or(""))
                .collect::<Vec<_>>()
                .join("-"),
            _ => raw
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap_or(""))
                .collect::<Vec<_>>()
                .join("."),
        };
        let p = common("card", &v);
        let d = only_digits(&p);
        assert!(same_skeleton(&v, &p), "{v} -> {p}");
        assert_eq!(d[..6], raw.as_bytes()[..6], "issuer prefix: {v} -> {p}");
        assert!(validate::luhn(&d), "Luhn: {p}");
        if validate::card_issuer_ok(raw.as_bytes()) {
            assert!(validate::card_issuer_ok(&d), "issuer and length: {p}");
        }
        // Separators do not make another card.
        assert_eq!(
            d,
            only_digits(&pseudonymize(&Hmac::new(KEY_A), "card", &raw))
        );
        distinct.insert(p);
    }
    assert!(
        distinct.len() > 1990,
        "pseudonyms collide: {}",
        distinct.len()
    );
}

#[test]
fn a_luhn_number_found_by_another_rule_is_a_card() {
    let v = with_luhn("411111111111111");
    assert_eq!(Shape::infer(&v), Shape::Card);
    let p = common("inline_secret", &v);
    assert!(validate::luhn(p.as_bytes()) && p.starts_with("411111"));
}

#[test]
fn ibans_keep_country_length_and_a_valid_check() {
    let ibans = [
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "BE68539007547034",
        "ch9300762011623852957",
    ];
    for v in ibans {
        let p = common("iban", v);
        let compact: Vec<u8> = p
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        assert!(validate::iban_mod97(&compact), "{v} -> {p}");
        assert_eq!(p.len(), v.len());
        assert_eq!(p[..2], v[..2], "country kept");
        assert!(
            v.bytes()
                .zip(p.bytes())
                .all(|(a, b)| a.is_ascii_digit() == b.is_ascii_digit()
                    && a.is_ascii_alphabetic() == b.is_ascii_alphabetic()),
            "{v} -> {p}"
        );
    }
}

#[test]
fn ssns_stay_in_issued_ranges() {
    let mut x = 3u64;
    for i in 0..500 {
        let d = format!("{:03}{}", 1 + i % 650, digits(&mut x, 6));
        let v = format!("{}-{}-{}", &d[..3], &d[3..5], &d[5..]);
        let p = common("ssn", &v);
        assert!(same_skeleton(&v, &p));
        let n = |r: std::ops::Range<usize>| p[r].parse::<u32>().unwrap_or(0);
        assert!(validate::ssn_ok(n(0..3), n(4..6), n(7..11)), "{p}");
    }
}

#[test]
fn phones_keep_digits_separators_and_prefix() {
    let phones = [
        "+44 20 7946 0958",
        "+1 415-555-2671",
        "(415) 555-2671",
        "415.555.2671",
        "020 7946 0958",
        "+49 30 12345678",
        "01 23 45 67 89",
        "+33 1 23 45 67 89",
        "+81 3-1234-5678",
        "415-555-0199x1234",
    ];
    for v in phones {
        let p = common("phone", v);
        assert!(same_skeleton(v, &p), "{v} -> {p}");
        let (a, b) = (only_digits(v), only_digits(&p));
        assert_eq!(a[..2], b[..2], "country or area code kept: {v} -> {p}");
    }
    // NANP: the exchange code starts with 2-9 whatever is drawn.
    let mut x = 5u64;
    for _ in 0..300 {
        let v = format!("(415) {}-{}", digits(&mut x, 3), digits(&mut x, 4));
        let p = common("phone", &v);
        assert!(matches!(p.as_bytes()[6], b'2'..=b'9'), "{p}");
    }
}

#[test]
fn addresses_stay_addresses() {
    for v in ["203.0.113.7", "8.8.4.4", "93.184.216.34"] {
        let p = common("ipv4", v);
        let o: Vec<u32> = p.split('.').filter_map(|s| s.parse().ok()).collect();
        assert_eq!(o.len(), 4, "{p}");
        assert!(o.iter().all(|n| *n <= 255));
        assert!(!validate::ipv4_private([
            o[0] as u8, o[1] as u8, o[2] as u8, o[3] as u8
        ]));
    }
    for v in [
        "2001:db8:85a3::8a2e:370:7334",
        "2606:4700:4700::1111",
        "::ffff:203.0.113.9",
    ] {
        let p = common("ipv6", v);
        assert!(p.parse::<std::net::Ipv6Addr>().is_ok(), "{v} -> {p}");
    }
    for v in ["a4:5e:60:d1:22:7f", "A4-5E-60-D1-22-7F", "a45e.60d1.227f"] {
        let p = common("mac", v);
        assert_eq!(p.len(), v.len());
        assert_eq!(p[..5], v[..5], "OUI kept");
        assert!(
            p.bytes()
                .zip(v.bytes())
                .all(|(a, b)| a.is_ascii_hexdigit() == b.is_ascii_hexdigit())
        );
    }
}

#[test]
fn imeis_keep_the_type_code_and_luhn() {
    let mut x = 9u64;
    for _ in 0..300 {
        let v = with_luhn(&format!("35209900{}", digits(&mut x, 6)));
        let p = common("imei", &v);
        assert!(
            validate::luhn(p.as_bytes()) && p.starts_with("35209900"),
            "{p}"
        );
        let grouped = format!("{}-{}-{}-{}", &v[..2], &v[2..8], &v[8..14], &v[14..]);
        let g = common("imei", &grouped);
        assert!(same_skeleton(&grouped, &g));
        assert_eq!(
            only_digits(&g),
            p.into_bytes(),
            "grouping is not another IMEI"
        );
    }
}

#[test]
fn uuids_dates_and_text_keep_their_form() {
    let u = "70f856c7-0482-4891-8056-6b1c1e0e4f2a";
    let p = common("key", u);
    assert!(is_uuid(p.as_bytes()) && &p[14..15] == "4", "{p}");
    assert!(matches!(p.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{p}");
    let upper = u.to_uppercase();
    let pu = common("key", &upper);
    assert_eq!(pu, pu.to_uppercase());

    for v in [
        "1984-02-29",
        "1984/12/31",
        "2001-07-04T10:22:01Z",
        "31/12/1984",
        "04.07.2001",
    ] {
        let p = common("key", v);
        let l = parse_date(p.as_bytes()).unwrap_or_else(|| panic!("not a date: {v} -> {p}"));
        assert_eq!(p.len(), v.len());
        assert_eq!(
            p[l.year..l.year + 4],
            v[l.year..l.year + 4],
            "year kept: {p}"
        );
        assert!(same_skeleton(v, &p), "{v} -> {p}");
    }

    let v = "Hunter2-Secret!";
    let p = common("inline_secret", v);
    assert!(
        v.chars()
            .zip(p.chars())
            .all(|(a, b)| a.is_ascii_digit() == b.is_ascii_digit()
                && a.is_ascii_uppercase() == b.is_ascii_uppercase()
                && a.is_ascii_lowercase() == b.is_ascii_lowercase()
                && (a.is_ascii_alphanumeric() || a == b)),
        "{p}"
    );
    let p = common("high_entropy", "José Müller");
    assert_eq!(p.chars().count(), "José Müller".chars().count());
    assert!(p.is_ascii(), "{p}");
}

#[test]
fn vendor_prefixes_stay() {
    let gh = format!("ghp_{}", "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6");
    let p = common("github_token", &gh);
    assert!(p.starts_with("ghp_") && p.len() == gh.len(), "{p}");
    let sk = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
    assert!(common("stripe_key", &sk).starts_with("sk_live_"));
    let ak = format!("AKIA{}", "IOSFODNN7EXAMPLE");
    let p = common("aws_access_key", &ak);
    assert!(
        p.starts_with("AKIA")
            && p[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
}

#[test]
fn values_with_nothing_to_vary_are_still_not_kept() {
    let a = Hmac::new(KEY_A);
    assert_eq!(pseudonymize(&a, "inline_secret", "--"), "xx");
    // A one-digit value has ten draws; the retry makes it differ anyway
    // (two keys may well agree on one digit, so no key check here).
    for d in 0..10 {
        let v = d.to_string();
        let p = pseudonymize(&a, "inline_secret", &v);
        assert!(p != v && p.len() == 1 && p.as_bytes()[0].is_ascii_digit());
    }
}
