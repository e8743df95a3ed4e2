//! The `docker` detector: the Docker daemon's `GET /info` over its Unix socket
//! (`DOCKER_HOST=unix://...`, else `/var/run/docker.sock`) gives `host.name` (the
//! daemon's host) and `os.type`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde::Deserialize;

use super::{Detected, enabled_attributes};

/// The attributes this detector can add, with their default enable flags.
pub const ATTRIBUTES: &[(&str, bool)] = &[("host.name", true), ("os.type", true)];

#[derive(Deserialize)]
struct Info {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "OSType", default)]
    os_type: String,
}

/// The socket path from `DOCKER_HOST`, or the default.
fn socket() -> Result<String, String> {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => Ok(h.trim_start_matches("unix://").to_owned()),
        Ok(h) if !h.is_empty() => Err(format!(
            "DOCKER_HOST={h}: only a unix:// socket is supported"
        )),
        _ => Ok("/var/run/docker.sock".to_owned()),
    }
}

/// One HTTP/1.0 GET over a Unix socket (the daemon then answers without chunking and
/// closes): the body of a 200 answer.
pub fn get(path: &str, target: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut s = UnixStream::connect(path).map_err(|e| format!("connect {path}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n")
        .map_err(|e| format!("write {path}: {e}"))?;
    let mut answer = Vec::new();
    s.take(16 << 20)
        .read_to_end(&mut answer)
        .map_err(|e| format!("read {path}: {e}"))?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let status = String::from_utf8_lossy(answer.split(|b| *b == b'\n').next().unwrap_or(&[]))
        .trim()
        .to_owned();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("GET {target}: {status}"));
    }
    Ok(answer[split + 4..].to_vec())
}

/// What the detector adds.
pub fn detect(flags: &[(String, bool)], timeout: Duration) -> Result<Detected, String> {
    let path = socket()?;
    let body = get(&path, "/info", timeout)?;
    let info: Info = serde_json::from_slice(&body)
        .map_err(|e| format!("GET /info: not the expected JSON: {e}"))?;
    let mut out = Detected::new();
    let enabled = enabled_attributes(ATTRIBUTES, flags);
    if enabled.contains(&"host.name") && !info.name.is_empty() {
        out.push(("host.name".into(), info.name));
    }
    if enabled.contains(&"os.type") && !info.os_type.is_empty() {
        out.push(("os.type".into(), info.os_type));
    }
    Ok(out)
}
