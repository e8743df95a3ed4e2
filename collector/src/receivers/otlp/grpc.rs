//! OTLP/gRPC: one tonic service per signal, moving raw bytes so decoding is ours.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use pdata::{ConsumeError, ErrorKind, Signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::codegen::{
    Body, BoxFuture, CompressionEncoding, Context, EnabledCompressionEncodings, Poll, Service,
    StdError, http,
};
use tonic::server::{NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;

use super::response::ExportResponse;
use super::{GrpcConfig, keepalive};
use crate::grpc_codec::RawCodec;
use crate::receivers::{Ingest, ReceiveError};

pub async fn serve(
    cfg: &GrpcConfig,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let listener = crate::net::bind(&cfg.endpoint).await?;
    serve_listener(listener, cfg, ingest, stop)
}

/// Serves on a bound `listener` (tests bind port 0 and read the address back). Fails
/// when the TLS certificate or key cannot be read.
pub(crate) fn serve_listener(
    listener: tokio::net::TcpListener,
    cfg: &GrpcConfig,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let max = (cfg.max_recv_msg_size_mib as usize).saturating_mul(1024 * 1024);
    let params = cfg
        .keepalive
        .as_ref()
        .map(|k| k.server_parameters.clone())
        .unwrap_or_default();
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(params.time.unwrap_or(keepalive::DEFAULT_TIME)))
        .http2_keepalive_timeout(params.timeout);
    if let Some(age) = params.max_connection_age {
        builder = builder.max_connection_age(age);
    }
    if let Some(grace) = params.max_connection_age_grace {
        builder = builder.max_connection_age_grace(grace);
    }
    if let Some(n) = cfg.max_concurrent_streams {
        builder = builder.max_concurrent_streams(n);
    }
    let router = builder
        .add_service(OtlpService::<TracesPath>::new(ingest.clone(), max))
        .add_service(OtlpService::<LogsPath>::new(ingest.clone(), max))
        .add_service(OtlpService::<MetricsPath>::new(ingest, max));
    if let Some(tls) = &cfg.tls {
        let acceptor = tls
            .acceptor(&[b"h2"])
            .map_err(|e| std::io::Error::other(format!("protocols.grpc.tls: {e}")))?;
        let ready = super::tls::accept(listener, acceptor, stop.clone());
        let incoming = futures_util::stream::unfold(ready, |mut rx| async move {
            rx.recv()
                .await
                .map(|conn| (Ok::<_, std::io::Error>(conn), rx))
        });
        return Ok(tokio::spawn(async move {
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "OTLP gRPC server failed.");
            }
        }));
    }
    // Without TCP_NODELAY a small response waits behind Nagle's algorithm for the peer's
    // delayed ACK (~40 ms): measured as 145K logs/s at 18% CPU before, see BENCHMARKS.md.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Ok(tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "OTLP gRPC server failed.");
        }
    }))
}

/// Which OTLP service a [`OtlpService`] answers.
pub trait SignalPath: Send + Sync + 'static {
    const NAME: &'static str;
    const EXPORT: &'static str;
    const SIGNAL: Signal;
}

pub struct TracesPath;
pub struct LogsPath;
pub struct MetricsPath;

impl SignalPath for TracesPath {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const EXPORT: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    const SIGNAL: Signal = Signal::Traces;
}
impl SignalPath for LogsPath {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const EXPORT: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    const SIGNAL: Signal = Signal::Logs;
}
impl SignalPath for MetricsPath {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const EXPORT: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    const SIGNAL: Signal = Signal::Metrics;
}

pub struct OtlpService<P> {
    ingest: Arc<Ingest>,
    max_decoding: usize,
    _path: PhantomData<P>,
}

impl<P> Clone for OtlpService<P> {
    fn clone(&self) -> Self {
        OtlpService {
            ingest: self.ingest.clone(),
            max_decoding: self.max_decoding,
            _path: PhantomData,
        }
    }
}

impl<P: SignalPath> OtlpService<P> {
    fn new(ingest: Arc<Ingest>, max_decoding: usize) -> Self {
        OtlpService {
            ingest,
            max_decoding,
            _path: PhantomData,
        }
    }
}

impl<P: SignalPath> NamedService for OtlpService<P> {
    const NAME: &'static str = P::NAME;
}

impl<P, B> Service<http::Request<B>> for OtlpService<P>
where
    P: SignalPath,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != P::EXPORT || !self.ingest.accepts(P::SIGNAL) {
            let status = Status::unimplemented(format!(
                "{} is not served: no {} pipeline uses this receiver",
                req.uri().path(),
                P::SIGNAL
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let ingest = self.ingest.clone();
        let max = self.max_decoding;
        Box::pin(async move {
            let mut encodings = EnabledCompressionEncodings::default();
            encodings.enable(CompressionEncoding::Gzip);
            encodings.enable(CompressionEncoding::Zstd);
            encodings.enable(CompressionEncoding::Deflate);
            let mut grpc = tonic::server::Grpc::new(RawCodec::<Bytes>::default())
                .apply_compression_config(encodings, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(max), None);
            let export = Export::<P> {
                ingest,
                _path: PhantomData,
            };
            Ok(grpc.unary(export, req).await)
        })
    }
}

struct Export<P> {
    ingest: Arc<Ingest>,
    _path: PhantomData<P>,
}

impl<P: SignalPath> UnaryService<Bytes> for Export<P> {
    type Response = Bytes;
    type Future = BoxFuture<tonic::Response<Bytes>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let ingest = self.ingest.clone();
        Box::pin(async move {
            let body = request.into_inner();
            let (rejected, rejection) =
                ingest
                    .push_protobuf(P::SIGNAL, body)
                    .await
                    .map_err(|e| match e {
                        ReceiveError::Decode(e) => Status::invalid_argument(e.to_string()),
                        ReceiveError::Consume(e) => to_status(e),
                    })?;
            let response = ExportResponse::new(P::SIGNAL, rejected, &rejection);
            Ok(tonic::Response::new(response.to_protobuf()))
        })
    }
}

fn to_status(e: ConsumeError) -> Status {
    match e.kind {
        // UNAVAILABLE is retryable per the OTLP spec without needing RetryInfo.
        ErrorKind::Retryable => Status::unavailable(e.message),
        ErrorKind::Permanent => Status::invalid_argument(e.message),
    }
}
