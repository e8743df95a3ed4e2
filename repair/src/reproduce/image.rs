//! The service image for a commit: the repository tree at the commit (`git archive`)
//! plus the replay runner, as a tar build context, onto the configured base image or with
//! the repository's own Dockerfile. The tag changes with the commit, the Dockerfile and
//! the runner, so an image is reused exactly when nothing it contains changed.

use sha2::{Digest, Sha256};

use crate::config::ServiceConfig;
use crate::repo::Repo;
use crate::sandbox::ImageSpec;

pub(super) const REPLAY_PY: &str = include_str!("../../assets/replay.py");
const SITECUSTOMIZE_PY: &str = include_str!("../../assets/sitecustomize.py");
const FORKSERVER_PY: &str = include_str!("../../assets/forkserver.py");

/// Files vendored into the sandbox beside the runner (coverage.py), as (path under
/// `/opt/tracemend/vendor/`, content).
pub type Vendor = Vec<(String, String)>;

/// The build context and tag for `service` at `commit`.
pub async fn image_spec(
    repo: &Repo,
    name: &str,
    service: &ServiceConfig,
    commit: &str,
    vendor: &Vendor,
) -> Result<ImageSpec, String> {
    let vendor_line = if vendor.is_empty() {
        ""
    } else {
        "COPY .tracemend-repro/vendor/ /opt/tracemend/vendor/\n"
    };
    let runner_lines = format!(
        "COPY .tracemend-repro/replay.py .tracemend-repro/forkserver.py /opt/tracemend/\nCOPY .tracemend-repro/sitecustomize.py /opt/tracemend/site/sitecustomize.py\n{vendor_line}LABEL org.tracemend.repair.commit={commit}\n"
    );
    let (dockerfile, prefix) = match (&service.dockerfile, &service.base_image) {
        (Some(path), _) => {
            let path = path.to_string_lossy();
            let own = repo.show(commit, &path).await.map_err(|e| e.to_string())?;
            (
                format!("{}\n{runner_lines}", String::from_utf8_lossy(&own)),
                "",
            )
        }
        (None, Some(base)) => (
            format!(
                "FROM {base}\nCOPY src/ {}/\n{runner_lines}",
                service.workdir.trim_end_matches('/')
            ),
            "src/",
        ),
        (None, None) => {
            return Err(format!(
                "service {name} has neither dockerfile nor base_image"
            ));
        }
    };
    let mut hash = Sha256::new();
    for part in [
        dockerfile.as_str(),
        REPLAY_PY,
        SITECUSTOMIZE_PY,
        FORKSERVER_PY,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    for (path, content) in vendor {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(content.as_bytes());
        hash.update([0]);
    }
    let hash = hex::encode(hash.finalize());
    let mut extra = vec![
        (".tracemend-repro/Dockerfile".to_string(), dockerfile),
        (
            ".tracemend-repro/replay.py".to_string(),
            REPLAY_PY.to_string(),
        ),
        (
            ".tracemend-repro/sitecustomize.py".to_string(),
            SITECUSTOMIZE_PY.to_string(),
        ),
        (
            ".tracemend-repro/forkserver.py".to_string(),
            FORKSERVER_PY.to_string(),
        ),
    ];
    extra.extend(
        vendor
            .iter()
            .map(|(path, content)| (format!(".tracemend-repro/vendor/{path}"), content.clone())),
    );
    let context = repo
        .archive(commit, prefix, &extra)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ImageSpec {
        tag: format!(
            "tracemend-repro/{}:{}-{}",
            tag_safe(name),
            &commit[..12.min(commit.len())],
            &hash[..10]
        ),
        service: name.to_string(),
        context,
        dockerfile: ".tracemend-repro/Dockerfile".to_string(),
    })
}

fn tag_safe(name: &str) -> String {
    name.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_docker_safe() {
        assert_eq!(tag_safe("Check Out/v2"), "check-out-v2");
    }
}
