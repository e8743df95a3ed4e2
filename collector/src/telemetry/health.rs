use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Readiness of the whole collector and the health of individual components.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    unhealthy: Mutex<BTreeMap<String, String>>,
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

    /// Components currently unhealthy, with why.
    pub fn problems(&self) -> BTreeMap<String, String> {
        self.unhealthy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
