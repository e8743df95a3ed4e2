//! Browser sessions: a random id in an HttpOnly cookie, the session itself on the server
//! (role and expiry), so a logout or an expiry ends it whatever the browser keeps.
//! Sessions live in memory: a restarted engine asks for a new login.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

/// At most this many live sessions; the one closest to expiry gives way. Only a valid
/// token opens a session, so this bounds memory, it does not lock anyone out.
const MAX_SESSIONS: usize = 1024;

/// What a session may see. Both roles read everything the dashboard shows; the role
/// says which token opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Logged in with the engine's token.
    Engine,
    /// Logged in with the dashboard's read-only token.
    ReadOnly,
}

struct Session {
    role: Role,
    expires: Instant,
}

/// The live sessions, keyed by the SHA-256 of their id: a map lookup compares keys in
/// variable time, and comparing hashes leaks nothing usable about an id.
pub struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<[u8; 32], Session>>,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// Sessions that last `ttl` from login.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session; returns its id (256 random bits, hex).
    pub fn open(&self, role: Role) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| s.expires > now);
        }
        if live.len() >= MAX_SESSIONS {
            let oldest = live.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k);
            if let Some(k) = oldest {
                live.remove(&k);
            }
        }
        live.insert(
            key(&id),
            Session {
                role,
                expires: now + self.ttl,
            },
        );
        id
    }

    /// The role of a live session; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Role> {
        let k = key(id);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get(&k) {
            Some(s) if s.expires > Instant::now() => Some(s.role),
            Some(_) => {
                live.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session (logout).
    pub fn close(&self, id: &str) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(&key(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_expire_and_close() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let a = sessions.open(Role::Engine);
        let b = sessions.open(Role::ReadOnly);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(sessions.get(&a), Some(Role::Engine));
        assert_eq!(sessions.get(&b), Some(Role::ReadOnly));
        assert_eq!(sessions.get("not-a-session"), None);
        sessions.close(&a);
        assert_eq!(sessions.get(&a), None);

        let short = Sessions::new(Duration::ZERO);
        let c = short.open(Role::Engine);
        assert_eq!(short.get(&c), None, "expired at once");
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let first = sessions.open(Role::Engine);
        for _ in 0..MAX_SESSIONS {
            sessions.open(Role::Engine);
        }
        assert_eq!(
            sessions.live.lock().expect("lock").len(),
            MAX_SESSIONS,
            "bounded"
        );
        assert_eq!(sessions.get(&first), None, "the oldest gave way");
    }
}
