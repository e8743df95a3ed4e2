//! The Docker sandbox on its own, against the real engine: the bounded image cache never
//! removes an image a container is using, removes the older ones once they are free, and
//! a run whose image is gone reports `ImageMissing` (the reproduce stage then rebuilds
//! it) rather than an opaque engine error. No container or image is left behind.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use repair::config::{DockerConfig, SandboxConfig};
use repair::sandbox::{DockerSandbox, ImageSpec, RunSpec, Sandbox, SandboxError};

/// A build context holding only a Dockerfile on the base image, labelled with `commit`
/// (so [`Cleanup`] finds the image by that label).
fn spec(tag: &str, commit: &str) -> ImageSpec {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {BASE_IMAGE}\nLABEL org.tracemend.repair.commit={commit}\n"),
    )
    .expect("write Dockerfile");
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        .args(["-cf", "-", "Dockerfile"])
        .output()
        .expect("tar");
    assert!(out.status.success());
    ImageSpec {
        tag: tag.to_string(),
        service: "sbx".to_string(),
        context: out.stdout,
        dockerfile: "Dockerfile".to_string(),
    }
}

fn run_spec(image: &str, name: &str, seconds: u32) -> RunSpec {
    RunSpec {
        image: image.to_string(),
        name: name.to_string(),
        cmd: vec![
            "python3".into(),
            "-c".into(),
            format!("import time; time.sleep({seconds})"),
        ],
        env: Vec::new(),
        workdir: "/".to_string(),
        timeout: Duration::from_secs(60),
    }
}

fn image_exists(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", tag])
        .output()
        .expect("docker image inspect")
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_spares_images_in_use_and_a_missing_image_is_named() {
    ensure_base_image();
    let state = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(state.path());
    let owner = cleanup.owner.clone();
    let commits: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|c| format!("{owner}-{c}"))
        .collect();
    cleanup.commits.extend(commits.iter().cloned());
    let tags: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|c| format!("tracemend-test/sbx:{c}-{owner}"))
        .collect();
    let limits = SandboxConfig {
        images_per_service: 1,
        ..SandboxConfig::default()
    };
    let sandbox = std::sync::Arc::new(DockerSandbox::new(
        DockerConfig::default(),
        limits,
        owner.clone(),
    ));

    let a = sandbox
        .ensure_image(&spec(&tags[0], &commits[0]))
        .await
        .expect("build a");
    assert!(!a.cached && a.pruned.is_empty(), "{a:?}");

    // A container uses image a while b is built: a must stay.
    let busy_name = format!("tracemend-sbx-{owner}-busy");
    let busy = {
        let sandbox = sandbox.clone();
        let spec = run_spec(&tags[0], &busy_name, 300);
        tokio::spawn(async move { sandbox.run(&spec).await })
    };
    let start = Instant::now();
    while containers_of(&owner).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = sandbox
        .ensure_image(&spec(&tags[1], &commits[1]))
        .await
        .expect("build b");
    assert!(b.pruned.is_empty(), "an image in use was pruned: {b:?}");
    assert!(image_exists(&tags[0]));
    // Ends the busy run (the sandbox still collects and removes its container).
    let killed = Command::new("docker")
        .args(["kill", &busy_name])
        .output()
        .expect("docker kill");
    assert!(killed.status.success(), "{killed:?}");
    let out = busy.await.expect("join").expect("run on a");
    assert_eq!(out.exit_code, Some(137), "{out:?}");

    // Nothing uses a or b now: building c (limit 1) removes both.
    let c = sandbox
        .ensure_image(&spec(&tags[2], &commits[2]))
        .await
        .expect("build c");
    let mut pruned = c.pruned.clone();
    pruned.sort();
    assert_eq!(pruned, vec![tags[0].clone(), tags[1].clone()], "{c:?}");
    assert!(!image_exists(&tags[0]) && !image_exists(&tags[1]));
    assert!(image_exists(&tags[2]));
    // Cached again: nothing is built, nothing pruned.
    let again = sandbox
        .ensure_image(&spec(&tags[2], &commits[2]))
        .await
        .expect("reuse c");
    assert!(again.cached && again.pruned.is_empty(), "{again:?}");

    // A run on a pruned image says so.
    let gone = sandbox
        .run(&run_spec(
            &tags[0],
            &format!("tracemend-sbx-{owner}-gone"),
            0,
        ))
        .await;
    assert_eq!(gone, Err(SandboxError::ImageMissing(tags[0].clone())));

    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
