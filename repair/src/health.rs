//! What the engine knows about its dependencies, for `GET /healthz`.

use std::sync::Mutex;

use serde::Serialize;

/// Last known state of the sandbox engine.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SandboxHealth {
    /// `None` until the engine was tried once.
    pub reachable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Jobs parked until the engine answers again.
    pub waiting_jobs: u64,
}

#[derive(Debug, Default)]
pub struct Health {
    sandbox: Mutex<SandboxHealth>,
}

impl Health {
    pub fn sandbox(&self) -> SandboxHealth {
        self.sandbox.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn sandbox_up(&self) {
        if let Ok(mut s) = self.sandbox.lock() {
            s.reachable = Some(true);
            s.error = None;
        }
    }

    pub fn sandbox_down(&self, error: &str) {
        if let Ok(mut s) = self.sandbox.lock() {
            s.reachable = Some(false);
            s.error = Some(error.to_string());
        }
    }

    pub fn set_waiting(&self, n: u64) {
        if let Ok(mut s) = self.sandbox.lock() {
            s.waiting_jobs = n;
        }
    }
}
