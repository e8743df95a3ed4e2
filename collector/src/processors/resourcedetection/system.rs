//! The `system` detector: `host.name` from the first `hostname_sources` entry that
//! answers, `os.type`, and on request `host.id` (the machine id), `host.arch`,
//! `os.description` and `os.version`.

use serde::Deserialize;

use super::{Detected, ResourceAttributes, enabled_attributes};

/// The attributes this detector can add, with their default enable flags (otelcol's).
pub const ATTRIBUTES: &[(&str, bool)] = &[
    ("host.name", true),
    ("os.type", true),
    ("host.id", false),
    ("host.arch", false),
    ("os.description", false),
    ("os.version", false),
];

/// Attributes otelcol's detector has that tracemend does not read: enabling one is
/// refused rather than silently doing nothing.
pub const NOT_READ: &[&str] = &[
    "host.ip",
    "host.mac",
    "host.cpu.vendor.id",
    "host.cpu.family",
    "host.cpu.model.id",
    "host.cpu.model.name",
    "host.cpu.stepping",
    "host.cpu.cache.l2.size",
    "os.build.id",
    "os.name",
];

/// `system:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    /// Where `host.name` comes from, first answer wins: `dns`, `os`, `cname`, `lookup`.
    #[serde(default)]
    pub hostname_sources: Option<Vec<String>>,
    #[serde(default)]
    pub resource_attributes: ResourceAttributes,
}

/// The known hostname sources.
pub const SOURCES: &[&str] = &["dns", "os", "cname", "lookup"];

fn read_trimmed(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("{path}: {e}"))
        .and_then(|s| {
            if s.is_empty() {
                Err(format!("{path} is empty"))
            } else {
                Ok(s)
            }
        })
}

/// The kernel's host name.
fn os_hostname() -> Result<String, String> {
    read_trimmed("/proc/sys/kernel/hostname")
}

/// The fully qualified name of the host as `/etc/hosts` gives it: the canonical
/// (first) name of the line that lists the host name, when it has a dot.
fn fqdn_from_hosts(hosts: &str, host: &str) -> Option<String> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace().skip(1);
        let canonical = fields.next()?;
        let names: Vec<&str> = std::iter::once(canonical).chain(fields).collect();
        (names.contains(&host) && canonical.contains('.')).then(|| canonical.to_owned())
    })
}

fn hostname(source: &str) -> Result<String, String> {
    match source {
        "os" => os_hostname(),
        "dns" => {
            let host = os_hostname()?;
            let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            fqdn_from_hosts(&hosts, &host)
                .ok_or_else(|| format!("no fully qualified name for `{host}` in /etc/hosts"))
        }
        // These need reverse and CNAME DNS queries, which the standard library does not
        // make; the next source is tried.
        other => Err(format!(
            "hostname source `{other}` is not available in tracemend"
        )),
    }
}

/// The machine id (`host.id` on Linux, as otelcol reads it).
fn machine_id() -> Result<String, String> {
    read_trimmed("/etc/machine-id").or_else(|_| read_trimmed("/var/lib/dbus/machine-id"))
}

/// The architecture as otelcol's semantic conventions name it.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// What the detector adds; a hostname that no source gives is an error (logged by the
/// caller), the other attributes still come.
pub fn detect(cfg: &SystemConfig) -> (Detected, Vec<String>) {
    let mut out = Detected::new();
    let mut problems = Vec::new();
    let enabled = enabled_attributes(ATTRIBUTES, &cfg.resource_attributes.flags());
    let default_sources = ["dns".to_owned(), "os".to_owned()];
    let sources = cfg.hostname_sources.as_deref().unwrap_or(&default_sources);
    if enabled.contains(&"host.name") {
        let mut why = Vec::new();
        match sources
            .iter()
            .find_map(|s| hostname(s).map_err(|e| why.push(e)).ok())
        {
            Some(h) => out.push(("host.name".into(), h)),
            None => problems.push(format!("no host name: {}", why.join("; "))),
        }
    }
    if enabled.contains(&"os.type") {
        out.push(("os.type".into(), std::env::consts::OS.to_owned()));
    }
    if enabled.contains(&"host.id") {
        match machine_id() {
            Ok(id) => out.push(("host.id".into(), id)),
            Err(e) => problems.push(format!("no host.id: {e}")),
        }
    }
    if enabled.contains(&"host.arch") {
        out.push(("host.arch".into(), arch().to_owned()));
    }
    let release = read_trimmed("/proc/sys/kernel/osrelease");
    if enabled.contains(&"os.version") {
        match &release {
            Ok(r) => out.push(("os.version".into(), r.clone())),
            Err(e) => problems.push(format!("no os.version: {e}")),
        }
    }
    if enabled.contains(&"os.description") {
        let ostype = read_trimmed("/proc/sys/kernel/ostype").unwrap_or_else(|_| "Linux".into());
        let version = read_trimmed("/proc/sys/kernel/version").unwrap_or_default();
        let desc = [ostype, release.clone().unwrap_or_default(), version]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(("os.description".into(), desc));
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_comes_from_the_line_naming_the_host() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.9 box.example.com box\n10.0.0.5 web-1.prod.example.com web-1 # app\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "web-1").as_deref(),
            Some("web-1.prod.example.com")
        );
        assert_eq!(fqdn_from_hosts(hosts, "box"), None, "comments are not read");
        assert_eq!(fqdn_from_hosts(hosts, "localhost"), None, "not qualified");
    }

    #[test]
    fn the_os_source_reads_the_kernel_host_name() {
        let cfg = SystemConfig {
            hostname_sources: Some(vec!["lookup".into(), "os".into()]),
            ..Default::default()
        };
        let (d, problems) = detect(&cfg);
        assert!(problems.is_empty(), "{problems:?}");
        let host = os_hostname().expect("hostname");
        assert_eq!(d[0], ("host.name".to_owned(), host));
        assert_eq!(d[1], ("os.type".to_owned(), "linux".to_owned()));
        assert_eq!(d.len(), 2, "host.id is off by default: {d:?}");
    }
}
