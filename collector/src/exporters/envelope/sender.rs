//! One attempt to deliver queued envelopes: `POST {endpoint}/v1/envelopes`
//! with the bearer token. Envelopes ride the sending queue as log batches
//! (one record a envelope, its JSON the record's body) so the queue, its
//! file storage and the retries are the other exporters' own.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::common::v1::{AnyValue, any_value};
use pdata::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pdata::{Batch, Payload};
use prometheus_client::metrics::counter::Counter;

use super::super::tls::TlsClientConfig;
use super::super::{SendError, Sender};
use super::token::TokenSource;
use crate::telemetry::Health;

/// Envelope JSON as a one-record log batch (what the queue holds).
pub fn to_batch(envelope: String) -> Batch {
    let record = LogRecord {
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(envelope)),
        }),
        ..Default::default()
    };
    Batch::from_payload(Payload::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }))
}

/// The envelopes a queued batch carries.
pub fn from_batch(batch: &Batch) -> Vec<String> {
    let Payload::Logs(req) = batch.clone().into_payload() else {
        return Vec::new();
    };
    req.resource_logs
        .into_iter()
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .filter_map(|r| match r.body?.value? {
            any_value::Value::StringValue(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Sends to the engine's intake.
pub struct EngineSender {
    pub(super) id: String,
    pub(super) client: reqwest::Client,
    pub(super) url: String,
    pub(super) token: TokenSource,
    pub(super) health: Option<Arc<HealthSlot>>,
    pub(super) sent: Counter,
    pub(super) failed: Counter,
}

/// Where the exporter reports that the engine refuses its token.
pub struct HealthSlot {
    pub health: Arc<Health>,
}

impl EngineSender {
    /// The HTTP client with `tls` and `timeout`, as `otlphttp` builds it.
    pub fn client(tls: &TlsClientConfig, timeout: Duration) -> Result<reqwest::Client, String> {
        let builder = tls.apply_to(reqwest::Client::builder().timeout(timeout))?;
        builder.build().map_err(|e| format!("HTTP client: {e}"))
    }

    fn set_health(&self, problem: Option<String>) {
        if let Some(h) = &self.health {
            h.health.set_component(&self.id, problem);
        }
    }

    async fn post(&self, envelope: &str) -> Result<(), SendError> {
        let token = self.token.token().map_err(|e| SendError::Retryable {
            message: e.to_string(),
            after: None,
        })?;
        let resp = self
            .client
            .post(&self.url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(envelope.to_owned())
            .send()
            .await
            .map_err(|e| SendError::Retryable {
                message: format!("POST {}: {e}", self.url),
                after: None,
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            self.set_health(None);
            return Ok(());
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let detail = answer["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into());
        let message = format!("POST {} returned {status}: {detail}", self.url);
        match status.as_u16() {
            401 | 403 => {
                // Loud: nothing reaches the engine until the token is fixed.
                tracing::error!(exporter = %self.id, status = status.as_u16(), url = %self.url, "The repair engine refuses the exporter's bearer token; envelopes wait in the queue. Check token_env / token_file against the engine's token.");
                self.set_health(Some(format!(
                    "the repair engine answers {status}: the bearer token is refused"
                )));
                Err(SendError::Retryable {
                    message,
                    after: retry_after,
                })
            }
            429 | 500..=599 => Err(SendError::Retryable {
                message,
                after: retry_after,
            }),
            _ => {
                self.failed.inc();
                let path = answer["path"].as_str().unwrap_or("");
                tracing::error!(exporter = %self.id, status = status.as_u16(), path, error = %detail, "The repair engine refused an envelope; it is dropped.");
                Err(SendError::Permanent(message))
            }
        }
    }
}

#[async_trait]
impl Sender for EngineSender {
    async fn send(&self, batch: &Batch) -> Result<usize, SendError> {
        // One envelope a batch as queued; several are sent one by one.
        for envelope in from_batch(batch) {
            self.post(&envelope).await?;
            self.sent.inc();
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_ride_the_queue_as_log_records() {
        let text = r#"{"schema_version":"1"}"#.to_owned();
        let batch = to_batch(text.clone());
        assert_eq!(batch.item_count(), 1);
        let bytes = batch.to_protobuf();
        let back = Batch::from_protobuf(pdata::Signal::Logs, bytes).expect("decodes");
        assert_eq!(from_batch(&back.batch), vec![text]);
    }
}
