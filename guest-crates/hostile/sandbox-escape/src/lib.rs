//! Hostile guest: tries to read a file, open a socket, read the environment
//! and the clock, writes to stdout/stderr, and reports what it got as span attributes. The host's
//! sandbox must deny each (the attributes say `denied: ...`).
use tracemend_sdk::{Batch, Edits, Processor, export_processor};

struct Escape;

impl Processor for Escape {
    fn configure(_c: &str) -> Result<Self, String> {
        Ok(Escape)
    }
    fn process_traces(&mut self, b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        // Stdio is closed by the host: these must neither reach the
        // collector's output nor break the call.
        println!("guest writing to stdout");
        eprintln!("guest writing to stderr");
        let fs = match std::fs::read_to_string("/etc/passwd") {
            Ok(s) => format!("LEAK: {}", s.len()),
            Err(err) => format!("denied: {err}"),
        };
        let net = match std::net::TcpStream::connect("127.0.0.1:4317") {
            Ok(_) => "LEAK: connected".to_string(),
            Err(err) => format!("denied: {err}"),
        };
        let env = match std::env::vars().next() {
            Some((k, _)) => format!("LEAK: {k}"),
            None => "denied: empty".to_string(),
        };
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for span in b.spans() {
            e.set_attribute(&span, "escape.fs", fs.as_str());
            e.set_attribute(&span, "escape.net", net.as_str());
            e.set_attribute(&span, "escape.env", env.as_str());
            e.set_attribute(&span, "escape.clock", clock as i64);
        }
        Ok(())
    }
}

export_processor!(Escape);
