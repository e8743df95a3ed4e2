//! Listen endpoints (`host:port`, as otelcol writes them).

use tokio::net::TcpListener;

/// Checks the `host:port` shape of an endpoint without resolving it.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint {endpoint:?} must be host:port"))?;
    port.parse::<u16>()
        .map_err(|_| format!("endpoint {endpoint:?} has an invalid port {port:?}"))?;
    if host.contains(char::is_whitespace) {
        return Err(format!("endpoint {endpoint:?} has an invalid host"));
    }
    Ok(())
}

/// Binds a listener; an empty host (`:4317`) listens on every interface, as in otelcol.
pub async fn bind(endpoint: &str) -> std::io::Result<TcpListener> {
    let addr = match endpoint.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => endpoint.to_string(),
    };
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {endpoint}: {e}")))
}
