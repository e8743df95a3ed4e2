//! Per-instance memory limit. Unlike `StoreLimits`, this limiter remembers
//! that it refused a growth, so the host can tell a guest that ran out of
//! memory (fault `memory`) from one that trapped for another reason.

use wasmtime::ResourceLimiter;

/// Most table elements an instance may have (function tables of real guests
/// are a few thousand entries).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Memory limiter of one store.
#[derive(Debug)]
pub struct MemoryLimiter {
    max_bytes: usize,
    hit: bool,
}

impl MemoryLimiter {
    /// Allows linear memories up to `max_bytes` each.
    pub fn new(max_bytes: usize) -> Self {
        MemoryLimiter {
            max_bytes,
            hit: false,
        }
    }

    /// Whether a growth was refused since the last [`MemoryLimiter::reset`].
    pub fn hit(&self) -> bool {
        self.hit
    }

    /// Clears the flag before a call.
    pub fn reset(&mut self) {
        self.hit = false;
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            // Refuse (memory.grow returns -1) rather than trap here: the
            // guest's allocator fails and the guest aborts, which traps.
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_and_remembers() {
        let mut l = MemoryLimiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 20, None).expect("ok"));
        assert!(!l.hit());
        assert!(!l.memory_growing(1 << 20, 2 << 20, None).expect("ok"));
        assert!(l.hit());
        l.reset();
        assert!(!l.hit());
    }
}
