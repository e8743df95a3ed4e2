//! `tracemend-repair serve`: wires the store, the sandbox, the stages, the worker pool and
//! the HTTP API together, and shuts them down cleanly on SIGINT/SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::{ConfigError, RepairConfig};
use crate::dashboard::Dashboard;
use crate::health::Health;
use crate::intake::{self, AppState};
use crate::localize::Localize;
use crate::minimize::Minimize;
use crate::patch::Patch;
use crate::pipeline::{Backoff, Pipeline};
use crate::policy::PolicyGate;
use crate::probe::{Workbench, WorkbenchParts};
use crate::reproduce::{Reproduce, ReproduceParts};
use crate::sandbox::{DockerSandbox, Sandbox};
use crate::stage::Stage;
use crate::store::{Store, StoreError};
use crate::verify::{Verify, VerifyParts};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error("HTTP server error: {0}")]
    Http(#[source] std::io::Error),
}

/// Identifies this engine's containers: derived from the store file, so a restarted
/// engine finds what its previous run left behind, and engines with other stores do not
/// touch each other's containers.
pub fn owner_id(store_path: &Path) -> String {
    let dir = match store_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let canonical = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .join(store_path.file_name().unwrap_or_default());
    hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..6])
}

/// Runs the service until SIGINT or SIGTERM.
pub async fn serve(config: RepairConfig) -> Result<(), ServeError> {
    let token = config.read_token()?;
    let read_token = config.dashboard.read_token()?;
    let store_path = config.store.path.clone();
    let store = Store::open_with(&store_path, config.store.synchronous).map_err(|source| {
        ServeError::Store {
            path: store_path.display().to_string(),
            source,
        }
    })?;
    let recovered = store.recover().map_err(|source| ServeError::Store {
        path: store_path.display().to_string(),
        source,
    })?;
    if recovered > 0 {
        info!(
            jobs = recovered,
            "Resuming jobs that were running when the engine stopped."
        );
    }
    let owner = owner_id(&store_path);
    let data_dir = config.data_dir();
    let sandbox: Arc<dyn Sandbox> = Arc::new(DockerSandbox::new(
        config.docker.clone(),
        config.sandbox.clone(),
        owner.clone(),
    ));
    let health = Arc::new(Health::default());
    match tokio::time::timeout(Duration::from_secs(10), sandbox.remove_leftovers()).await {
        Ok(Ok(0)) => health.sandbox_up(),
        Ok(Ok(n)) => {
            info!(
                containers = n,
                "Removed sandbox containers left behind by an earlier run."
            );
            health.sandbox_up();
        }
        Ok(Err(e)) => {
            warn!(error = %e, "Docker engine not usable at startup; jobs wait until it is.");
            health.sandbox_down(&e.to_string());
        }
        Err(_) => health.sandbox_down("docker engine did not answer within 10s"),
    }

    // coverage.py for the localize stage's spectrum, vendored into every service image.
    let vendor = if config.runs_stage(crate::localize::STAGE) && config.localize.coverage {
        match crate::vendor::vendor_coverage(
            &data_dir.join("vendor"),
            &config.localize.coverage_requirement,
            Duration::from_secs(300),
        )
        .await
        {
            Ok(files) => files,
            Err(e) => {
                warn!(error = %e, "coverage.py could not be vendored; localization runs without the spectrum signal.");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let vendor = Arc::new(vendor);
    let bench = Arc::new(Workbench::new(WorkbenchParts {
        services: config.services.clone(),
        sandbox: sandbox.clone(),
        reproduce: config.reproduce.clone(),
        sandbox_timeout: config.sandbox.timeout,
        allow_root: config.sandbox.allow_root,
        repos_dir: data_dir.join("repos"),
        owner: owner.clone(),
        vendor: vendor.clone(),
    }));
    let mut stages: Vec<Arc<dyn Stage>> = vec![Arc::new(Reproduce::new(ReproduceParts {
        services: config.services.clone(),
        sandbox: sandbox.clone(),
        config: config.reproduce.clone(),
        sandbox_timeout: config.sandbox.timeout,
        sandbox_user: config.sandbox.user.clone(),
        allow_root: config.sandbox.allow_root,
        repos_dir: data_dir.join("repos"),
        owner: owner.clone(),
        vendor: vendor.clone(),
    }))];
    stages.push(Arc::new(Minimize::new(
        bench.clone(),
        config.minimize.clone(),
    )));
    stages.push(Arc::new(Localize::new(
        bench.clone(),
        config.localize.clone(),
    )));
    // Loaded before anything runs: a policy that does not compile stops the engine.
    let gate = PolicyGate::new(&config.patch.policy)?;
    stages.push(Arc::new(Patch::new(
        config.services.clone(),
        data_dir.join("repos"),
        config.patch.clone(),
        gate,
    )));
    stages.push(Arc::new(Verify::new(VerifyParts {
        bench,
        config: config.verify.clone(),
    })));
    // Only the configured stages run (a prefix of the pipeline, e.g. `[reproduce]`).
    stages.retain(|s| config.stages.iter().any(|n| n == s.name()));
    info!(stages = ?stages.iter().map(|s| s.name()).collect::<Vec<_>>(), "Pipeline stages.");
    let notify = Arc::new(Notify::new());
    let pipeline = Arc::new(Pipeline {
        store: store.clone(),
        stages,
        health: health.clone(),
        backoff: Backoff {
            initial: config.docker.retry_initial,
            max: config.docker.retry_max,
        },
        artifacts_root: data_dir.join("artifacts"),
        notify: notify.clone(),
    });
    let mut workers = JoinSet::new();
    for n in 0..config.workers {
        workers.spawn(pipeline.clone().worker(n));
    }

    let state = Arc::new(
        AppState::new(
            store,
            &token,
            notify,
            health,
            sandbox.clone(),
            config.intake.max_body_bytes,
        )
        .with_artifacts_root(data_dir.join("artifacts")),
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    // Printed on stdout so scripts and tests can find the port when `listen` ends in `:0`.
    println!("tracemend-repair listening on {local}");
    info!(addr = %local, workers = config.workers, "Repair engine started.");
    let mut app = intake::router(state.clone());
    if config.dashboard.enabled {
        let dash = Dashboard::new(state, &config.dashboard, read_token.as_deref());
        app = app.merge(crate::dashboard::router(Arc::new(dash)));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServeError::Http)?;

    info!("Shutting down: stopping workers and removing sandbox containers.");
    workers.shutdown().await;
    match tokio::time::timeout(Duration::from_secs(20), sandbox.remove_leftovers()).await {
        Ok(Ok(n)) if n > 0 => info!(containers = n, "Removed running sandbox containers."),
        Ok(Err(e)) => warn!(error = %e, "Could not remove sandbox containers at shutdown."),
        _ => {}
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
