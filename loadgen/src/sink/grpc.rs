//! The sink's OTLP/gRPC side: `TraceService/Export` and `LogsService/Export` served
//! with `RawCodec`, so a request's bytes are counted in place and never decoded.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tonic::body::Body;
use tonic::codec::{CompressionEncoding, EnabledCompressionEncodings};
use tonic::codegen::Body as HttpBody;
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::UnaryService;
use tonic::{Code, Request, Response, Status};

use super::SinkCounters;
use super::count::count_proto;
use crate::generate::Signal;
use crate::raw_codec::RawCodec;

/// Largest request accepted, as large as any exporter will send.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Serves `Export` of the OTLP trace and logs services, counting items and answering
/// with an empty response (no partial success). One service routes both methods, so
/// tonic's router (and its axum dependency) is not needed.
#[derive(Debug, Clone)]
pub struct CountingService {
    counters: Arc<SinkCounters>,
}

impl CountingService {
    /// A service recording into `counters`.
    pub fn new(counters: Arc<SinkCounters>) -> Self {
        Self { counters }
    }
}

struct Export {
    counters: Arc<SinkCounters>,
    signal: Signal,
}

impl UnaryService<Bytes> for Export {
    type Response = Bytes;
    type Future = std::future::Ready<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let body = request.into_inner();
        std::future::ready(match count_proto(&body) {
            Ok(items) => {
                self.counters.record(self.signal, items, body.len() as u64);
                // An empty message is a valid, fully successful Export*ServiceResponse.
                Ok(Response::new(Bytes::new()))
            }
            Err(e) => {
                self.counters.record_error();
                Err(Status::invalid_argument(e.to_string()))
            }
        })
    }
}

impl<B> Service<http::Request<B>> for CountingService
where
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let signal = if request.uri().path() == Signal::Traces.grpc_path() {
            Signal::Traces
        } else if request.uri().path() == Signal::Logs.grpc_path() {
            Signal::Logs
        } else {
            return Box::pin(async { Ok(Status::new(Code::Unimplemented, "").into_http()) });
        };
        let export = Export {
            counters: Arc::clone(&self.counters),
            signal,
        };
        let mut accept = EnabledCompressionEncodings::default();
        accept.enable(CompressionEncoding::Gzip);
        accept.enable(CompressionEncoding::Zstd);
        accept.enable(CompressionEncoding::Deflate);
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(MAX_MESSAGE_BYTES), None);
            Ok(grpc.unary(export, request).await)
        })
    }
}
