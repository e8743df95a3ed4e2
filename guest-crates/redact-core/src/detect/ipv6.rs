//! Public IPv6 addresses: runs of hex digits, colons and dots that parse
//! as an address, with at least two colons, four hex digits and a digit;
//! private and loopback addresses only when configured.

use std::net::Ipv6Addr;

use super::{Detectors, IPV6, Match};
use crate::validate;

impl Detectors {
    #[inline(never)]
    pub(super) fn ipv6s(&self, text: &[u8], out: &mut Vec<Match>) {
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
}
