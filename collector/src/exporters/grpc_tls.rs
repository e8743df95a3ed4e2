//! TLS for the gRPC exporter, on rustls directly rather than tonic's TLS settings,
//! which offer neither `insecure_skip_verify` nor version bounds: the channel's
//! endpoint is the server's address over `http` (so tonic leaves the connection to
//! this connector), this connector runs the handshake (ALPN `h2`), and requests keep
//! the `https` origin.

use std::sync::Arc;

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

use super::tls::TlsClientConfig;

/// The endpoint to configure (timeouts, keepalive) for a TLS channel to `https_uri`.
pub fn endpoint(https_uri: &str) -> Result<Endpoint, String> {
    let origin: Uri = https_uri
        .parse()
        .map_err(|e| format!("invalid endpoint {https_uri:?}: {e}"))?;
    let authority = origin
        .authority()
        .ok_or_else(|| format!("endpoint {https_uri:?} has no host"))?;
    Ok(Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| format!("invalid endpoint: {e}"))?
        .origin(origin))
}

/// A lazily connecting channel over TLS to `https_uri` (443 when it names no port),
/// with the settings of `endpoint` (made by [`endpoint`]) and of the TLS block.
pub fn channel(
    endpoint: &Endpoint,
    https_uri: &str,
    tls: &TlsClientConfig,
) -> Result<Channel, String> {
    let origin: Uri = https_uri
        .parse()
        .map_err(|e| format!("invalid endpoint {https_uri:?}: {e}"))?;
    let host = origin
        .host()
        .ok_or_else(|| format!("endpoint {https_uri:?} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = origin.port_u16().unwrap_or(443);
    let name = tls
        .server_name_override
        .clone()
        .unwrap_or_else(|| host.clone());
    let server_name =
        ServerName::try_from(name.clone()).map_err(|e| format!("tls server name {name:?}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls.rustls_config(&[b"h2"])?));
    let service = tower::service_fn(move |_dst: Uri| {
        let connector = connector.clone();
        let server_name = server_name.clone();
        let host = host.clone();
        async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let stream = connector.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    Ok(endpoint.connect_with_connector_lazy(service))
}
