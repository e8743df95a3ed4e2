//! Config parsing and validation: defaults, every rule with its YAML path, the example.

use super::*;

fn parse(text: &str) -> Result<RepairConfig, ConfigError> {
    RepairConfig::from_yaml(text, Path::new("test.yaml"))
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ConfigError::Invalid { errors, .. }) => errors,
        other => panic!("expected invalid config, got {other:?}"),
    }
}

#[test]
fn defaults_apply() {
    let c = parse("auth: {token_env: T}\n").expect("valid");
    assert_eq!(c.listen, default_listen());
    assert_eq!(c.workers, 2);
    assert_eq!(c.reproduce.runs, 3);
    assert_eq!(c.reproduce.clock, ClockMode::StartAt);
    assert_eq!(c.sandbox.user, "65534:65534");
    assert_eq!(c.sandbox.images_per_service, 5);
    assert_eq!(c.store.synchronous, Synchronous::Full);
    assert_eq!(c.data_dir(), PathBuf::from("repair-data"));
}

#[test]
fn example_config_is_valid() {
    let c = parse(include_str!("../../../config/repair.yaml")).expect("example valid");
    assert!(c.services.contains_key("checkout"));
}

#[test]
fn unknown_key_is_rejected() {
    let err = parse("auth: {token_env: T}\nlisen: 1\n").expect_err("unknown key");
    assert!(err.to_string().contains("lisen"), "{err}");
}

#[test]
fn token_source_is_required_once() {
    assert!(errors("auth: {}\n")[0].starts_with("auth:"));
    assert!(errors("auth: {token_env: A, token_file: /x}\n")[0].contains("only one"));
}

#[test]
fn every_error_is_reported_with_its_path() {
    let errs = errors(
        "auth: {token_env: T}\nworkers: 0\nreproduce: {runs: 0}\ndocker: {host: 'ftp://x'}\nservices:\n  web:\n    repository: ''\n    command: []\n    port: 0\n    workdir: app\n    test_command: ['']\n    env: {'A=B': x}\n",
    );
    for want in [
        "workers:",
        "reproduce.runs:",
        "services.web.repository:",
        "services.web: set one of dockerfile, base_image",
        "services.web.command:",
        "services.web.port:",
        "services.web.workdir:",
        "services.web.test_command:",
        "services.web.env:",
        "docker.host:",
    ] {
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{want} missing in {errs:?}"
        );
    }
}

#[test]
fn a_service_needs_its_test_command() {
    let err = parse(
        "auth: {token_env: T}\nservices:\n  web:\n    repository: /r\n    base_image: b\n    command: [python3, app.py]\n    port: 8080\n",
    )
    .expect_err("test_command is required");
    let text = err.to_string();
    assert!(
        text.contains("services") && text.contains("missing field `test_command`"),
        "{text}"
    );
    let errs = errors(
        "auth: {token_env: T}\nservices:\n  web:\n    repository: /r\n    base_image: b\n    command: [python3, app.py]\n    port: 8080\n    test_command: []\n",
    );
    assert_eq!(
        errs,
        vec!["services.web.test_command: must name the program that runs the repository's tests"]
    );
    let c = parse(
        "auth: {token_env: T}\nservices:\n  web:\n    repository: /r\n    base_image: b\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, pytest, -q]\n",
    )
    .expect("valid");
    assert_eq!(
        c.services["web"].test_command,
        ["python3", "-m", "pytest", "-q"]
    );
}

#[test]
fn wrong_types_and_broken_yaml_name_the_place() {
    let err = parse("auth: {token_env: T}\nworkers: many\n").expect_err("type");
    assert!(err.to_string().contains("workers"), "{err}");
    let err = parse("auth: {token_env: T}\nsandbox: {timeout: soon}\n").expect_err("duration");
    assert!(err.to_string().contains("sandbox.timeout"), "{err}");
    let err = parse("auth: [token_env\n").expect_err("yaml syntax");
    assert!(err.to_string().starts_with("test.yaml: "), "{err}");
    assert!(err.to_string().contains("line"), "{err}");
}

#[test]
fn durations_are_humantime() {
    let c = parse("auth: {token_env: T}\nsandbox: {timeout: 90s}\nreproduce: {clock: frozen}\n")
        .expect("valid");
    assert_eq!(c.sandbox.timeout, Duration::from_secs(90));
    assert_eq!(c.reproduce.clock, ClockMode::Frozen);
}

#[test]
fn short_token_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "short\n").expect("write");
    let c = parse(&format!("auth: {{token_file: {}}}\n", file.display())).expect("valid");
    assert!(c.read_token().is_err());
    std::fs::write(&file, "0123456789abcdef0123\n").expect("write");
    assert_eq!(c.read_token().expect("token"), "0123456789abcdef0123");
}

#[test]
fn a_root_sandbox_user_is_refused_unless_allowed() {
    for user in ["0", "root", "0:0", "root:staff", "", "00"] {
        let errs = errors(&format!(
            "auth: {{token_env: T}}\nsandbox: {{user: '{user}'}}\n"
        ));
        assert_eq!(errs.len(), 1, "{user:?}: {errs:?}");
        assert!(errs[0].starts_with("sandbox.user:"), "{errs:?}");
        assert!(errs[0].contains("allow_root"), "{errs:?}");
        parse(&format!(
            "auth: {{token_env: T}}\nsandbox: {{user: '{user}', allow_root: true}}\n"
        ))
        .expect("allowed explicitly");
    }
    for user in ["1000", "65534:65534", "app", "1000:0"] {
        parse(&format!(
            "auth: {{token_env: T}}\nsandbox: {{user: '{user}'}}\n"
        ))
        .expect("unprivileged");
    }
}

#[test]
fn build_limits_have_defaults_and_bounds() {
    let c = parse("auth: {token_env: T}\n").expect("valid");
    assert_eq!(c.sandbox.build.memory_mib, 1536);
    assert_eq!(c.sandbox.build.timeout, Duration::from_secs(600));
    let errs = errors(
        "auth: {token_env: T}\nsandbox:\n  build: {memory_mib: 4096, cpus: 0, timeout: 0s}\n",
    );
    for want in [
        "sandbox.build.memory_mib:",
        "sandbox.build.cpus:",
        "sandbox.build.timeout:",
    ] {
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{want} missing in {errs:?}"
        );
    }
}

#[test]
fn patch_policy_and_push_settings_are_checked() {
    let c = parse("auth: {token_env: T}\n").expect("valid");
    assert_eq!(c.patch.max_candidates, 6);
    assert_eq!(c.patch.policy.max_changed_lines, 30);
    assert!(c.patch.policy.default_policy);
    assert_eq!(c.verify.variants, 100);
    let errs = errors(
        "auth: {token_env: T}\npatch:\n  max_candidates: 0\n  policy: {default_policy: false, files: [own.txt], allowed_paths: []}\nservices:\n  web:\n    repository: /r\n    base_image: b\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3]\n    push: true\n",
    );
    for want in [
        "patch.max_candidates:",
        "patch.policy.allowed_paths:",
        "patch.policy.files[0]: own.txt is not a .rego file",
        "services.web.remote: required with push: true",
    ] {
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{want} missing in {errs:?}"
        );
    }
    let errs = errors(
        "auth: {token_env: T}\npatch:\n  model: {endpoint: 'ftp://x', model: '', api_key_env: ''}\n",
    );
    for want in [
        "patch.model.endpoint:",
        "patch.model.model:",
        "patch.model.api_key_env:",
    ] {
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{want} missing in {errs:?}"
        );
    }
    let errs = errors("auth: {token_env: T}\npatch:\n  policy: {default_policy: false}\n");
    assert!(
        errs.iter()
            .any(|e| e.contains("default_policy is false but no files replace it")),
        "{errs:?}"
    );
}

#[test]
fn stages_are_a_known_ordered_list_starting_with_reproduce() {
    let c = parse("auth: {token_env: T}\n").expect("valid");
    assert_eq!(
        c.stages,
        vec!["reproduce", "minimize", "localize", "patch", "verify"]
    );
    let c = parse("auth: {token_env: T}\nstages: [reproduce]\n").expect("valid");
    assert_eq!(c.stages, vec!["reproduce"]);
    for (stages, want) in [
        ("[reproduce, fix]", "stages: unknown stage \"fix\""),
        (
            "[reproduce, verify, patch]",
            "stages: must be in pipeline order",
        ),
        ("[patch, verify]", "stages: must start with reproduce"),
        ("[reproduce, verify]", "stages: verify needs patch"),
    ] {
        let errs = errors(&format!("auth: {{token_env: T}}\nstages: {stages}\n"));
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{stages}: {want} missing in {errs:?}"
        );
    }
}

#[test]
fn dashboard_settings_are_checked() {
    let c = parse("auth: {token_env: T}\n").expect("defaults");
    assert!(c.dashboard.enabled);
    assert_eq!(c.dashboard.session_ttl, Duration::from_secs(12 * 3600));
    assert_eq!(c.dashboard.secure_cookie, crate::config::SecureCookie::Auto);
    assert_eq!(c.dashboard.read_token().expect("none"), None);
    let e = errors(
        "auth: {token_env: T}\ndashboard: {read_token_env: A, read_token_file: /x, session_ttl: 5s}\n",
    );
    assert!(
        e.iter().any(|m| m.starts_with("dashboard: set only one")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.starts_with("dashboard.session_ttl:")),
        "{e:?}"
    );
    assert!(
        errors("auth: {token_env: T}\ndashboard: {read_token_env: ''}\n")[0]
            .starts_with("dashboard.read_token_env: must not be empty")
    );
    let err = parse("auth: {token_env: T}\ndashboard: {secure_cookie: sometimes}\n")
        .expect_err("unknown word");
    assert!(err.to_string().contains("sometimes"), "{err}");
    let short = parse(
        "auth: {token_env: T}\ndashboard: {read_token_env: TRACEMEND_TEST_SHORT_DASH_TOKEN_UNSET}\n",
    )
    .expect("valid");
    assert!(
        short
            .dashboard
            .read_token()
            .expect_err("unset")
            .to_string()
            .contains("TRACEMEND_TEST_SHORT_DASH_TOKEN_UNSET is not set")
    );
}
