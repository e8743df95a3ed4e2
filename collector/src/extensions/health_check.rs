//! The `health_check` extension: `GET` on its path answers 200 once every pipeline has
//! started and no component reports a problem, 503 otherwise, with a JSON body saying why.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{Extension, ExtensionContext, StartedExtension};
use crate::telemetry::Health;

/// `extensions.health_check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Listen address. Default `localhost:13133`.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Default `/`.
    #[serde(default = "default_path")]
    pub path: String,
}

fn default_endpoint() -> String {
    "localhost:13133".to_string()
}
fn default_path() -> String {
    "/".to_string()
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: default_endpoint(),
            path: default_path(),
        }
    }
}

impl ComponentConfig for HealthCheckConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Err(e) = crate::net::check_endpoint(&self.endpoint) {
            errors.push(ConfigError::new("endpoint", e));
        }
        if !self.path.starts_with('/') {
            errors.push(ConfigError::new("path", "must start with `/`"));
        }
        errors
    }
}

impl AnyConfig for HealthCheckConfig {}

#[async_trait]
impl Extension for HealthCheckConfig {
    async fn start(
        &self,
        id: &ComponentId,
        ctx: &ExtensionContext,
    ) -> anyhow::Result<StartedExtension> {
        let task = start(self, ctx.health.clone(), ctx.stop.clone()).await?;
        tracing::info!(extension = %id, endpoint = %self.endpoint, "Started health_check extension.");
        Ok(StartedExtension {
            task: Some(task),
            storage: None,
        })
    }
}

pub async fn start(
    cfg: &HealthCheckConfig,
    health: Arc<Health>,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let listener = crate::net::bind(&cfg.endpoint).await?;
    let app = Router::new().route(
        &cfg.path,
        get(move || {
            let health = health.clone();
            async move {
                let problems = health.problems();
                let ready = health.is_ready();
                let body = serde_json::json!({
                    "status": if ready && problems.is_empty() { "Server available" } else { "Server not available" },
                    "ready": ready,
                    "unhealthy_components": problems,
                });
                let code = if ready && problems.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                (code, axum::Json(body)).into_response()
            }
        }),
    );
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    }))
}
