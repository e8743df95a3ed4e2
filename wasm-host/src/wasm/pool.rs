//! Idle instances of one plugin. An instance is checked out for exactly one
//! call, so a `Store` is never used by two threads at once; it may run on a
//! different thread next time, which wasmtime allows (`Store: Send`).

use std::sync::Mutex;

pub(crate) struct Pool<I> {
    idle: Mutex<Vec<I>>,
    max_idle: usize,
}

impl<I> Pool<I> {
    pub(crate) fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::with_capacity(max_idle)),
            max_idle: max_idle.max(1),
        }
    }

    /// An idle instance, if any.
    pub(crate) fn take(&self) -> Option<I> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Returns a healthy instance; beyond `max_idle` it is dropped.
    pub(crate) fn put(&self, instance: I) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(instance);
        }
    }

    /// Drops every idle instance.
    pub(crate) fn clear(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
