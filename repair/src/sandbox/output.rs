//! The part of a container's output the engine keeps: the tail of each stream. The
//! replay runner's result line is its last line and a traceback ends the service's
//! output, so a service that writes a lot loses its beginning, never its verdict.

/// Largest amount of stdout or stderr kept from one run.
pub(super) const MAX_OUTPUT: usize = 2 * 1024 * 1024;

/// The last [`MAX_OUTPUT`] bytes of a stream, and how many came before them.
#[derive(Debug, Default)]
pub(super) struct Tail {
    buf: Vec<u8>,
    dropped: u64,
}

impl Tail {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        // Trim in batches (at twice the cap) so a chatty stream costs amortized O(n).
        if self.buf.len() > 2 * MAX_OUTPUT {
            self.trim();
        }
    }

    fn trim(&mut self) {
        let excess = self.buf.len().saturating_sub(MAX_OUTPUT);
        if excess > 0 {
            self.buf.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The kept text (a character cut at the front becomes U+FFFD) and the bytes dropped.
    pub(super) fn finish(mut self) -> (String, u64) {
        self.trim();
        (
            String::from_utf8_lossy(&self.buf).into_owned(),
            self.dropped,
        )
    }
}

/// The last `n` bytes of `s` or a little less, on a character boundary.
pub(super) fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_of_a_long_stream_is_kept() {
        let mut t = Tail::default();
        for _ in 0..10 {
            t.push(&vec![b'x'; MAX_OUTPUT / 2]);
        }
        t.push(b"\nTRACEMEND_RESULT {}\n");
        let (text, dropped) = t.finish();
        assert_eq!(text.len(), MAX_OUTPUT);
        assert!(text.ends_with("\nTRACEMEND_RESULT {}\n"));
        assert_eq!(dropped as usize, 5 * MAX_OUTPUT + 21 - MAX_OUTPUT);
        let mut short = Tail::default();
        short.push("héllo".as_bytes());
        assert_eq!(short.finish(), ("héllo".to_string(), 0));
        assert_eq!(tail("héllo", 4), "llo");
    }
}
