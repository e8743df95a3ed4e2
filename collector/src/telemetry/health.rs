use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Asks a component for its health when the health endpoint is read: `Some(why)` when
/// it is unhealthy.
pub type Probe = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// Readiness of the whole collector and the health of individual components.
#[derive(Default)]
pub struct Health {
    ready: AtomicBool,
    unhealthy: Mutex<BTreeMap<String, String>>,
    probes: Mutex<Vec<(String, Probe)>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("ready", &self.is_ready())
            .field("problems", &self.problems())
            .finish()
    }
}

impl Health {
    /// All pipelines started (or, at shutdown, stopped being ready).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Marks `component` unhealthy with a reason, or healthy again with `None`.
    pub fn set_component(&self, component: &str, problem: Option<String>) {
        let mut map = self.unhealthy.lock().unwrap_or_else(|e| e.into_inner());
        match problem {
            Some(p) => {
                map.insert(component.to_string(), p);
            }
            None => {
                map.remove(component);
            }
        }
    }

    /// Registers a component whose health is read on demand (a WASM processor's
    /// circuit breaker knows its state; nothing needs to push it).
    pub fn add_probe(&self, component: &str, probe: Probe) {
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((component.to_string(), probe));
    }

    /// Components currently unhealthy, with why.
    pub fn problems(&self) -> BTreeMap<String, String> {
        let mut out = self
            .unhealthy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (component, probe) in self.probes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if let Some(why) = probe() {
                out.insert(component.clone(), why);
            }
        }
        out
    }
}
