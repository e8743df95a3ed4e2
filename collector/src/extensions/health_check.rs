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

use crate::config::auth::{self, AuthConfig};
use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError, Ignored, ignored};
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
    /// Bodies of the answers; default: a JSON document saying why.
    #[serde(default)]
    pub response_body: Option<ResponseBody>,
    /// otelcol's old exporter-failure check: health already reflects every
    /// component's state (circuits, pipelines).
    #[serde(default)]
    pub check_collector_pipeline: Ignored,
    /// Refused: needs an authenticator extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// HTTP server settings otelcol shares across components; not served here.
    #[serde(default)]
    pub tls: Ignored,
    #[serde(default)]
    pub cors: Ignored,
    #[serde(default)]
    pub include_metadata: Ignored,
    #[serde(default)]
    pub response_headers: Ignored,
    #[serde(default)]
    pub max_request_body_size: Ignored,
    #[serde(default)]
    pub compression_algorithms: Ignored,
    #[serde(default)]
    pub read_timeout: Ignored,
    #[serde(default)]
    pub read_header_timeout: Ignored,
    #[serde(default)]
    pub write_timeout: Ignored,
    #[serde(default)]
    pub idle_timeout: Ignored,
    /// The health_check v2 (`use_v2`) settings.
    #[serde(default)]
    pub use_v2: Ignored,
    #[serde(default)]
    pub http: Ignored,
    #[serde(default)]
    pub grpc: Ignored,
    #[serde(default)]
    pub component_health: Ignored,
}

/// `response_body`: fixed answer bodies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    /// The body of a 200.
    #[serde(default)]
    pub healthy: Option<String>,
    /// The body of a 503.
    #[serde(default)]
    pub unhealthy: Option<String>,
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
            response_body: None,
            check_collector_pipeline: Ignored::default(),
            auth: None,
            tls: Ignored::default(),
            cors: Ignored::default(),
            include_metadata: Ignored::default(),
            response_headers: Ignored::default(),
            max_request_body_size: Ignored::default(),
            compression_algorithms: Ignored::default(),
            read_timeout: Ignored::default(),
            read_header_timeout: Ignored::default(),
            write_timeout: Ignored::default(),
            idle_timeout: Ignored::default(),
            use_v2: Ignored::default(),
            http: Ignored::default(),
            grpc: Ignored::default(),
            component_health: Ignored::default(),
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
        errors.extend(auth::refuse(&self.auth, "auth"));
        errors
    }
}

impl AnyConfig for HealthCheckConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let server = "the health endpoint is plain HTTP without these server options";
        let v2 = "health_check v2 is not offered; the v1 endpoint answers";
        ignored::warnings(
            "",
            &[
                (
                    "check_collector_pipeline",
                    &self.check_collector_pipeline,
                    "health always reflects every component's state",
                ),
                ("tls", &self.tls, server),
                ("cors", &self.cors, server),
                ("include_metadata", &self.include_metadata, server),
                ("response_headers", &self.response_headers, server),
                ("max_request_body_size", &self.max_request_body_size, server),
                (
                    "compression_algorithms",
                    &self.compression_algorithms,
                    server,
                ),
                ("read_timeout", &self.read_timeout, server),
                ("read_header_timeout", &self.read_header_timeout, server),
                ("write_timeout", &self.write_timeout, server),
                ("idle_timeout", &self.idle_timeout, server),
                ("use_v2", &self.use_v2, v2),
                ("http", &self.http, v2),
                ("grpc", &self.grpc, v2),
                ("component_health", &self.component_health, v2),
            ],
        )
    }
}

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
    let bodies = cfg.response_body.clone().unwrap_or_default();
    let app = Router::new().route(
        &cfg.path,
        get(move || {
            let health = health.clone();
            let bodies = bodies.clone();
            async move {
                let problems = health.problems();
                let ready = health.is_ready();
                let healthy = ready && problems.is_empty();
                let code = if healthy {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let fixed = if healthy {
                    bodies.healthy
                } else {
                    bodies.unhealthy
                };
                if let Some(text) = fixed {
                    return (code, text).into_response();
                }
                let body = serde_json::json!({
                    "status": if healthy { "Server available" } else { "Server not available" },
                    "ready": ready,
                    "unhealthy_components": problems,
                });
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
