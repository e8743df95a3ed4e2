//! The consistent-hash ring of the `loadbalancing` exporter.
//!
//! Like contrib's, each backend owns many points on a ring (here [`POINTS_PER_BACKEND`]),
//! and a routing key belongs to the first point at or after its hash. Adding a backend
//! takes over about 1/n of the keys, removing one hands only its own keys to the others,
//! so a change moves few traces. Positions come from FNV-1a 64 with a final mix (plain
//! FNV of similar strings such as `host:4317#1`, `host:4317#2` clusters); the result
//! depends only on the endpoint strings, so every front-tier collector with the same
//! backend list routes a trace the same way.

/// Points each backend owns; contrib uses 100 as well.
pub const POINTS_PER_BACKEND: u32 = 100;

/// A ring over a set of backend endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ring {
    endpoints: Vec<String>,
    /// (position, index into `endpoints`), sorted by position.
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// A ring over `endpoints` (deduplicated; order does not matter).
    pub fn new(endpoints: impl IntoIterator<Item = String>) -> Ring {
        let mut endpoints: Vec<String> = endpoints.into_iter().collect();
        endpoints.sort();
        endpoints.dedup();
        let mut points = Vec::with_capacity(endpoints.len() * POINTS_PER_BACKEND as usize);
        for (i, e) in endpoints.iter().enumerate() {
            for p in 0..POINTS_PER_BACKEND {
                points.push((hash(format!("{e}#{p}").as_bytes()), i));
            }
        }
        // Ties (vanishingly rare) resolve by endpoint order, the same everywhere.
        points.sort_unstable();
        Ring { endpoints, points }
    }

    /// The endpoints, sorted.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The backend that owns `key`; `None` when the ring is empty.
    pub fn route(&self, key: &[u8]) -> Option<&str> {
        let h = hash(key);
        let i = self.points.partition_point(|(p, _)| *p < h);
        let (_, backend) = self.points.get(i).or_else(|| self.points.first())?;
        self.endpoints.get(*backend).map(String::as_str)
    }
}

/// FNV-1a 64, then the splitmix64 finalizer so nearby inputs spread over the ring.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn ring(n: usize) -> Ring {
        Ring::new((1..=n).map(|i| format!("backend-{i}:4317")))
    }

    fn keys() -> impl Iterator<Item = [u8; 16]> {
        (0u64..30_000).map(|i| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
            k[8..].copy_from_slice(&i.to_le_bytes());
            k
        })
    }

    fn owners(r: &Ring) -> Vec<String> {
        keys()
            .map(|k| r.route(&k).expect("non-empty ring").to_owned())
            .collect()
    }

    #[test]
    fn empty_ring_routes_nowhere() {
        assert_eq!(Ring::new(Vec::new()).route(b"x"), None);
    }

    #[test]
    fn one_backend_gets_everything_and_order_does_not_matter() {
        let r = ring(1);
        assert!(keys().all(|k| r.route(&k) == Some("backend-1:4317")));
        let a = Ring::new(["b:1".to_owned(), "a:1".to_owned(), "a:1".to_owned()]);
        let b = Ring::new(["a:1".to_owned(), "b:1".to_owned()]);
        assert_eq!(a, b);
        assert_eq!(a.endpoints(), ["a:1", "b:1"]);
    }

    #[test]
    fn keys_spread_over_backends() {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for o in owners(&ring(3)) {
            *count.entry(o).or_default() += 1;
        }
        assert_eq!(count.len(), 3);
        for (b, n) in &count {
            // A third is 10,000; 100 points each keep every share within ~30% of it.
            assert!(
                (7_000..=13_000).contains(n),
                "{b}: {n} of 30000 ({count:?})"
            );
        }
    }

    #[test]
    fn removing_a_backend_moves_only_its_keys() {
        let before = owners(&ring(3));
        let after = owners(&Ring::new(
            ["backend-1:4317", "backend-3:4317"].map(String::from),
        ));
        for (b, a) in before.iter().zip(&after) {
            if b != "backend-2:4317" {
                assert_eq!(b, a, "a key of a remaining backend moved");
            } else {
                assert_ne!(a, "backend-2:4317");
            }
        }
    }

    #[test]
    fn adding_a_backend_moves_about_its_share() {
        let before = owners(&ring(3));
        let after = owners(&ring(4));
        let moved: Vec<(&String, &String)> =
            before.iter().zip(&after).filter(|(b, a)| b != a).collect();
        // Every moved key moved to the new backend, and it took about a quarter.
        assert!(moved.iter().all(|(_, a)| *a == "backend-4:4317"));
        let share = moved.len() as f64 / before.len() as f64;
        assert!((0.15..=0.35).contains(&share), "moved {share}");
    }
}
