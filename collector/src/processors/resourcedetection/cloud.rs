//! The cloud and platform detectors. Their config is accepted as otelcol writes it; each
//! checks for its metadata source with a short timeout and, when it is absent (the
//! common case off that platform), adds nothing and logs why. `heroku` reads its
//! environment variables and is implemented; the others do not read their metadata
//! yet, and say so in the log when their source answers.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::Detected;

/// How a detector finds out whether its platform is there.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// A metadata service at this address answers a TCP connection.
    Tcp(&'static str),
    /// One of these environment variables is set.
    Env(&'static [&'static str]),
    /// This file exists.
    File(&'static str),
}

const IMDS: Probe = Probe::Tcp("169.254.169.254:80");
const KUBERNETES: Probe = Probe::Env(&["KUBERNETES_SERVICE_HOST"]);

/// The detectors of otelcol-contrib tracemend accepts besides `env`, `system` and
/// `docker`: name, what it looks for, how.
pub const DETECTORS: &[(&str, &str, Probe)] = &[
    ("ec2", "the EC2 instance metadata service", IMDS),
    (
        "ecs",
        "the ECS task metadata endpoint",
        Probe::Env(&[
            "ECS_CONTAINER_METADATA_URI_V4",
            "ECS_CONTAINER_METADATA_URI",
        ]),
    ),
    ("eks", "a Kubernetes service account", KUBERNETES),
    (
        "elastic_beanstalk",
        "the Elastic Beanstalk environment file",
        Probe::File("/var/elasticbeanstalk/xray/environment.conf"),
    ),
    (
        "lambda",
        "an AWS Lambda runtime",
        Probe::Env(&["AWS_LAMBDA_FUNCTION_NAME"]),
    ),
    ("gcp", "the GCP metadata server", IMDS),
    // The name `gcp` replaced; configs still use it.
    ("gke", "the GCP metadata server", IMDS),
    ("azure", "the Azure instance metadata service", IMDS),
    ("aks", "a Kubernetes service account", KUBERNETES),
    (
        "heroku",
        "Heroku dyno metadata",
        Probe::Env(&["HEROKU_DYNO_ID"]),
    ),
    ("openshift", "a Kubernetes service account", KUBERNETES),
    ("k8snode", "a Kubernetes service account", KUBERNETES),
    ("kubeadm", "a Kubernetes service account", KUBERNETES),
    ("consul", "a Consul agent", Probe::Tcp("127.0.0.1:8500")),
    (
        "dynatrace",
        "the Dynatrace host metadata file",
        Probe::File("/var/lib/dynatrace/enrichment/dt_host_metadata.properties"),
    ),
    ("upcloud", "the UpCloud metadata service", IMDS),
    ("vultr", "the Vultr metadata service", IMDS),
    ("akamai", "the Akamai (Linode) metadata service", IMDS),
    ("scaleway", "the Scaleway metadata service", IMDS),
    ("hetzner", "the Hetzner metadata service", IMDS),
    ("oraclecloud", "the Oracle Cloud metadata service", IMDS),
    ("digitalocean", "the DigitalOcean metadata service", IMDS),
    ("openstack", "the OpenStack Nova metadata service", IMDS),
    ("alibaba_ecs", "the Alibaba Cloud metadata service", IMDS),
];

/// Whether the probe finds its source: `Err` says why not.
pub fn probe(p: Probe, timeout: Duration) -> Result<String, String> {
    match p {
        Probe::Tcp(addr) => {
            let a: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
            TcpStream::connect_timeout(&a, timeout)
                .map(|_| format!("{addr} answers"))
                .map_err(|e| format!("connect {addr}: {e} (waited at most {timeout:?})"))
        }
        Probe::Env(vars) => vars
            .iter()
            .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
            .map(|v| format!("{v} is set"))
            .ok_or_else(|| format!("{} not set", vars.join(" / "))),
        Probe::File(path) => std::fs::metadata(path)
            .map(|_| format!("{path} exists"))
            .map_err(|e| format!("{path}: {e}")),
    }
}

/// `heroku`: the dyno metadata otelcol's detector reads (the `runtime-dyno-metadata`
/// lab feature's variables).
pub fn heroku(var: impl Fn(&str) -> Option<String>) -> Detected {
    let Some(dyno) = var("HEROKU_DYNO_ID").filter(|v| !v.is_empty()) else {
        return Detected::new();
    };
    let mut out = vec![
        ("cloud.provider".to_owned(), "heroku".to_owned()),
        ("service.instance.id".to_owned(), dyno),
    ];
    for (env, attr) in [
        ("HEROKU_APP_ID", "heroku.app.id"),
        ("HEROKU_APP_NAME", "service.name"),
        (
            "HEROKU_RELEASE_CREATED_AT",
            "heroku.release.creation_timestamp",
        ),
        ("HEROKU_RELEASE_VERSION", "service.version"),
        ("HEROKU_SLUG_COMMIT", "heroku.release.commit"),
    ] {
        if let Some(v) = var(env).filter(|v| !v.is_empty()) {
            out.push((attr.to_owned(), v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_sources_say_why() {
        let e = probe(
            Probe::Env(&["TM_SURELY_UNSET_VAR"]),
            Duration::from_millis(1),
        )
        .expect_err("unset");
        assert!(e.contains("TM_SURELY_UNSET_VAR not set"), "{e}");
        let e = probe(Probe::File("/nonexistent/tm"), Duration::from_millis(1)).expect_err("file");
        assert!(e.contains("/nonexistent/tm"), "{e}");
        // A closed loopback port refuses at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let addr: &'static str = Box::leak(format!("127.0.0.1:{port}").into_boxed_str());
        assert!(probe(Probe::Tcp(addr), Duration::from_secs(1)).is_err());
    }

    #[test]
    fn heroku_reads_the_dyno_metadata() {
        assert!(heroku(|_| None).is_empty());
        let d = heroku(|k| match k {
            "HEROKU_DYNO_ID" => Some("dyno-1".into()),
            "HEROKU_APP_NAME" => Some("shop".into()),
            "HEROKU_RELEASE_VERSION" => Some("v42".into()),
            _ => None,
        });
        assert_eq!(
            d,
            [
                ("cloud.provider".to_owned(), "heroku".to_owned()),
                ("service.instance.id".to_owned(), "dyno-1".to_owned()),
                ("service.name".to_owned(), "shop".to_owned()),
                ("service.version".to_owned(), "v42".to_owned()),
            ]
        );
    }
}
