//! Deterministic span attributes for the guest-vs-native benchmark: ten
//! attributes a span, the mix a web service emits (routes, URLs, SQL, user
//! agents, peer addresses, ids, messages), about one span in eight carrying
//! an email, card or phone number. Dependency-free so the host benchmark
//! (`wasm-host/benches/redact.rs`) includes this same file by path and both
//! sides measure identical text.

/// `spans` spans of `(key, value)` attributes, from `seed`.
pub fn spans(spans: usize, seed: u64) -> Vec<Vec<(String, String)>> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let hex = |v: u64, n: usize| format!("{v:016x}{:016x}", v.rotate_left(17))[..n].to_owned();
    (0..spans)
        .map(|i| {
            let r = next();
            let id = r % 100_000;
            let pii = match r % 24 {
                0 => format!("user{id}@example.com"),
                1 => "4111 1111 1111 1111".to_owned(),
                2 => format!("+1 415-555-{:04}", id % 10_000),
                _ => format!("user {id}"),
            };
            vec![
                ("http.route".into(), "/api/v1/orders/{id}".into()),
                ("http.request.method".into(), "POST".into()),
                ("url.full".into(), format!("https://shop.example.com/api/v1/orders/{id}?ref=mail&page={}", r % 9)),
                ("db.statement".into(), format!("SELECT id, total FROM orders WHERE customer_id = {id} AND status = 'open' LIMIT 20")),
                ("user_agent.original".into(), "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.6099.109 Safari/537.36".into()),
                ("network.peer.address".into(), format!("10.{}.{}.{}", r % 256, (r >> 8) % 256, (r >> 16) % 250 + 1)),
                ("app.request_id".into(), format!("{}-{}-4{}-a{}-{}", hex(r, 8), hex(r >> 3, 4), hex(r >> 5, 3), hex(r >> 7, 3), hex(r >> 11, 12))),
                ("app.message".into(), format!("order {i} placed by {pii} in 42ms")),
                ("code.function".into(), "OrderService.placeOrder".into()),
                ("app.trace_hint".into(), hex(next(), 32)),
            ]
        })
        .collect()
}

/// Total bytes of attribute values (the benchmark's MB/s denominator).
pub fn value_bytes(spans: &[Vec<(String, String)>]) -> usize {
    spans.iter().flatten().map(|(_, v)| v.len()).sum()
}

/// What `tracemend-loadgen` sends by default, the spans of the pipeline
/// benchmark (`loadgen/bench/otlp-redact-otlp.yaml`): ten attributes
/// `loadgen.attr.K` a span, each value 16 characters of
/// `[A-Za-z0-9_-]`, drawn as loadgen's `filler` draws them (its
/// `ids::mix`, copied here so this file stays dependency-free). Random text
/// of that alphabet is what the gating pass sees there: long runs, few
/// digit runs, no separators.
pub fn loadgen_spans(spans: usize, value_len: usize) -> Vec<Vec<(String, String)>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mix = |x: u64| {
        let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let filler = |item: u64, salt: u64| {
        let mut state = mix(item ^ salt.rotate_left(32));
        (0..value_len)
            .map(|n| {
                if n % 10 == 0 {
                    state = mix(state);
                }
                char::from(ALPHABET[(state >> ((n % 10) * 6) & 63) as usize])
            })
            .collect::<String>()
    };
    (0..spans as u64)
        .map(|i| {
            (0..10u64)
                .map(|k| (format!("loadgen.attr.{k}"), filler(i, k)))
                .collect()
        })
        .collect()
}
