//! What the engine knows about its dependencies, for `GET /healthz`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::dependency::DOCKER;

/// Last known state of one dependency.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DependencyHealth {
    /// `None` until the dependency was tried once.
    pub reachable: Option<bool>,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Jobs parked until the engine answers again (filled in by `GET /healthz`).
    pub waiting_jobs: u64,
}

/// Shared by the workers (which learn about dependencies as stages run) and `GET /healthz`.
#[derive(Debug, Default)]
pub struct Health {
    dependencies: Mutex<BTreeMap<&'static str, DependencyHealth>>,
}

impl Health {
    /// The state of dependency `name` (default: never tried).
    pub fn dependency(&self, name: &str) -> DependencyHealth {
        self.dependencies
            .lock()
            .ok()
            .and_then(|d| d.get(name).cloned())
            .unwrap_or_default()
    }

    /// Every dependency tried so far.
    pub fn all(&self) -> BTreeMap<&'static str, DependencyHealth> {
        self.dependencies
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// The Docker engine's state.
    pub fn sandbox(&self) -> DependencyHealth {
        self.dependency(DOCKER)
    }

    /// Records that `name` answered.
    pub fn up(&self, name: &'static str) {
        if let Ok(mut d) = self.dependencies.lock() {
            let entry = d.entry(name).or_default();
            entry.reachable = Some(true);
            entry.error = None;
        }
    }

    /// Records that `name` is down and why.
    pub fn down(&self, name: &'static str, error: &str) {
        if let Ok(mut d) = self.dependencies.lock() {
            let entry = d.entry(name).or_default();
            entry.reachable = Some(false);
            entry.error = Some(error.to_string());
        }
    }

    /// Shorthand for `up(DOCKER)`.
    pub fn sandbox_up(&self) {
        self.up(DOCKER);
    }

    /// Shorthand for `down(DOCKER, error)`.
    pub fn sandbox_down(&self, error: &str) {
        self.down(DOCKER, error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_go_down_and_up_with_their_reason() {
        let h = Health::default();
        assert_eq!(h.sandbox().reachable, None);
        h.down("git_remote", "fetch failed");
        h.sandbox_up();
        assert_eq!(h.sandbox().reachable, Some(true));
        let git = h.dependency("git_remote");
        assert_eq!(
            (git.reachable, git.error.as_deref()),
            (Some(false), Some("fetch failed"))
        );
        h.up("git_remote");
        assert_eq!(h.dependency("git_remote").error, None);
        assert_eq!(h.all().len(), 2);
    }
}
