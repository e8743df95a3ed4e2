//! The repair dashboard, served by the engine under `/ui/`: server-rendered HTML (the
//! templates are compiled into the binary), one stylesheet, charts drawn as SVG on the
//! server, and no script at all.
//!
//! - [`auth`]: login with the engine's token (or the dashboard's read-only token) into a
//!   server-side [`session`] held in an HttpOnly, SameSite=Strict cookie; form posts must
//!   come from our own origin.
//! - [`headers`]: the Content-Security-Policy and the other security headers of every
//!   response.
//! - Pages: [`incidents`] (the list), [`incident`] (one incident's stages and evidence),
//!   [`overview`] (the engine's rates and times, [`chart`]).
//! - [`templates`] renders with auto-escaping: everything from an envelope is attacker
//!   text and is shown as text.
//!
//! The JSON API (`/v1/...`) is unchanged and keeps its bearer token.

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::config::{DashboardConfig, SecureCookie};
use crate::intake::AppState;

mod assets;
pub mod auth;
pub mod chart;
mod error;
pub mod headers;
mod incident;
mod incidents;
pub mod overview;
pub mod session;
mod templates;
mod text;

pub use error::PageError;
use session::Sessions;

/// What every dashboard request shares.
pub struct Dashboard {
    /// The engine's state: its store, its token and its artifacts.
    pub app: Arc<AppState>,
    /// Live sessions.
    pub sessions: Sessions,
    read_token_digest: Option<[u8; 32]>,
    secure_cookie: SecureCookie,
}

impl Dashboard {
    /// The dashboard over the engine's state; `read_token` is the optional read-only
    /// login token.
    pub fn new(app: Arc<AppState>, config: &DashboardConfig, read_token: Option<&str>) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            app,
            sessions: Sessions::new(config.session_ttl),
            read_token_digest: read_token.map(|t| Sha256::digest(t.as_bytes()).into()),
            secure_cookie: config.secure_cookie,
        }
    }
}

/// The dashboard's routes (all under `/ui`).
pub fn router(dash: Arc<Dashboard>) -> Router {
    let pages = Router::new()
        .route("/ui/", get(incidents::page))
        .route("/ui/overview", get(overview::page))
        .route("/ui/incidents/{id}", get(incident::page))
        .route("/ui/incidents/{id}/bundle.md", get(incident::bundle))
        .route_layer(middleware::from_fn_with_state(
            dash.clone(),
            auth::require_session,
        ));
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/login", get(auth::login_page).post(auth::login))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/static/{file}", get(assets::serve))
        .merge(pages)
        .route("/ui/{*rest}", get(error::not_found))
        .layer(middleware::from_fn(headers::security_headers))
        .with_state(dash)
}
