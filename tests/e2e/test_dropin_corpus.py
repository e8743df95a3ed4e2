"""Drop-in coverage: `tracemend validate` on real collector configs from public
repositories (tests/dropin/configs, sources in tests/dropin/SOURCES.md).

Each config is validated unchanged, with dummy values for the environment variables it
references (secrets get digits, so a number-looking value must stay a string where
otelcol takes strings). A config fails only for components tracemend does not have:
every error must name a known missing component, or the one refusal otelcol shares (a
`profiles` pipeline without its feature gate). A key or name of a component we ship that
is refused fails this test, and so does a missing component not listed below.

The summary (how many pass, the missing components most-used first) is printed; run with
`-s` to see it. README's "drop-in coverage" section holds it.
"""

import collections
import os
import pathlib
import re
import subprocess
import textwrap

from conftest import binary

CORPUS = pathlib.Path(__file__).resolve().parents[1] / "dropin" / "configs"

# Component types tracemend does not have yet, by kind, as found in the corpus.
KNOWN_MISSING = {
    "receiver": {
        "prometheus", "hostmetrics", "zipkin", "jaeger", "filelog", "httpcheck",
        "http_check", "nginx", "docker_stats", "postgresql", "redis", "host_metrics",
        "kafkametrics", "k8s_cluster", "k8sobjects", "journald", "receiver_creator",
        "mysql", "opencensus", "file", "elasticsearch",
    },
    "processor": {
        "k8sattributes", "cumulativetodelta", "linkextractor", "metricstransform",
        "resource_detection", "k8s_attributes",
    },
    "exporter": {
        "prometheus", "prometheusremotewrite", "zipkin", "jaeger", "loki",
        "elasticsearch", "opensearch", "azuremonitor", "googlecloud",
        "googlemanagedprometheus", "awsxray", "kafka", "datadog", "mackerel_otlp",
    },
    "extension": {
        "pprof", "zpages", "k8s_observer", "memory_ballast", "sigv4auth",
        "bearertokenauth", "headers_setter",
    },
    "connector": {"span_metrics", "datadog"},
}

PROFILES = "profiles pipelines are not supported"

# Errors in a corpus config that otelcol reports too, by file and YAML path: the config
# is kept as found, and these are not refusals of ours.
OTELCOL_REFUSES_TOO = {
    # memory_limiter with no settings: otelcol requires check_interval > 0 and a limit.
    ("googlecloudplatform-collector-builder-sample.yaml", "processors.memory_limiter.check_interval"),
    ("googlecloudplatform-collector-builder-sample.yaml", "processors.memory_limiter.limit_mib"),
}


def dummy(name: str) -> str:
    """A plausible value for an environment variable, by its name."""
    upper = name.upper()
    if "VERBOSITY" in upper:
        return "basic"
    if re.search(r"(^|_)PORT(_|$)", upper):
        return "4317"
    if any(upper.endswith(s) for s in ("HOST", "ADDR", "_IP")) or "POD_IP" in upper:
        return "127.0.0.1"
    if "REGION" in upper:
        return "us-east-1"
    if "SITE" in upper:
        return "datadoghq.com"
    if any(s in upper for s in ("KEY", "TOKEN", "AUTH", "PASSWORD", "SECRET")):
        # Digits with a leading zero: must reach `headers` as this exact string.
        return "0123456789"
    return "dummy"


def collector_config(path: pathlib.Path) -> str:
    """The collector config in a corpus file: the file itself, or the `relay` of a Helm
    ConfigMap, or the `config` of an OpenTelemetryCollector resource."""
    text = path.read_text()
    for kind, key in (("ConfigMap", "relay"), ("OpenTelemetryCollector", "config")):
        if re.search(rf"^kind: {kind}\s*$", text, re.M):
            m = re.search(rf"^(\s+){key}: \|\s*\n((?:\1\s+.*\n|\s*\n)+)", text, re.M)
            assert m, f"{path.name}: no `{key}: |` block"
            return textwrap.dedent(m.group(2))
    return text


ENV_REF = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
ERROR_LINE = re.compile(r"^  (?:\S+:\d+: )?(?P<path>[^:]*): (?P<message>.*)$")
MISSING = re.compile(r"unknown (receiver|processor|exporter|extension|connector) type `([^`]+)`")
NEEDS_EXTENSION = re.compile(r"(?:authenticator|encoding) extension `([^`]+)`")


def classify(name: str, stderr: str) -> tuple[set, list]:
    """The missing components an error output names, and the errors that name none
    (those otelcol reports too left out)."""
    missing, other = set(), []
    for line in stderr.splitlines():
        if not line.startswith("  "):
            continue
        m = ERROR_LINE.match(line)
        message = m.group("message") if m else line
        if m and (name, m.group("path").rsplit(": ", 1)[-1]) in OTELCOL_REFUSES_TOO:
            missing.add(("otelcol-refuses-too", m.group("path").rsplit(": ", 1)[-1]))
        elif u := MISSING.search(message):
            missing.add((u.group(1), u.group(2)))
        elif e := NEEDS_EXTENSION.search(message):
            missing.add(("extension", e.group(1)))
        elif PROFILES in message:
            missing.add(("pipeline", "profiles"))
        else:
            other.append(line.strip())
    return missing, other


def test_the_corpus_fails_only_for_missing_components(tmp_path):
    files = sorted(CORPUS.glob("*.yaml"))
    assert len(files) >= 40, f"the corpus has {len(files)} configs"
    passed, refused, uses = [], {}, collections.Counter()
    unknown_missing = {}
    for f in files:
        config = collector_config(f)
        target = tmp_path / f.name
        target.write_text(config)
        env = dict(os.environ)
        env.update({name: dummy(name) for name in ENV_REF.findall(config)})
        r = subprocess.run([binary(), "validate", "--config", str(target)],
                           capture_output=True, text=True, env=env, timeout=120)
        if r.returncode == 0:
            passed.append(f.name)
            continue
        missing, other = classify(f.name, r.stderr)
        assert missing or other, f"{f.name} failed without an error:\n{r.stderr}"
        if other:
            refused[f.name] = other
        for kind, name in missing:
            if kind == "otelcol-refuses-too":
                continue
            uses[(kind, name)] += 1
            if kind != "pipeline" and name not in KNOWN_MISSING[kind]:
                unknown_missing.setdefault(f.name, []).append(f"{kind} {name}")

    print(f"\ndrop-in coverage: {len(passed)} of {len(files)} configs validate unchanged")
    print("missing, by configs using it:")
    for (kind, name), n in sorted(uses.items(), key=lambda x: (-x[1], x[0])):
        print(f"  {n:3}  {kind} {name}")
    assert not refused, "keys or names of shipped components refused:\n" + "\n".join(
        f"{name}:\n    " + "\n    ".join(lines) for name, lines in refused.items())
    assert not unknown_missing, f"missing components not in KNOWN_MISSING: {unknown_missing}"


def test_number_like_secrets_stay_strings_in_headers(tmp_path):
    """`${env:KEY}` of digits in `headers` loads (as text), in both OTLP exporters."""
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent("""\
        receivers: {otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}}
        exporters:
          otlp: {endpoint: "backend:4317", headers: {api-key: "${env:TM_NUMERIC_KEY}"}}
          otlphttp: {endpoint: "http://backend:4318", headers: {x-key: "${env:TM_NUMERIC_KEY}"}}
        service:
          pipelines:
            traces: {receivers: [otlp], exporters: [otlp, otlphttp]}
        """))
    env = dict(os.environ, TM_NUMERIC_KEY="0042")
    r = subprocess.run([binary(), "validate", "--config", str(config)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr


def test_accepted_keys_without_effect_are_reported_as_warnings(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent("""\
        receivers:
          otlp:
            protocols:
              grpc: {endpoint: "127.0.0.1:0", include_metadata: true}
        processors:
          batch: {metadata_keys: [x-tenant]}
        exporters:
          logging: {loglevel: debug}
        service:
          telemetry:
            logs: {disable_stacktrace: true}
          pipelines:
            traces: {receivers: [otlp], processors: [batch], exporters: [logging]}
        """))
    r = subprocess.run([binary(), "validate", "--config", str(config)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stderr.splitlines() if l.startswith("warning: ")]
    text = "\n".join(warnings)
    for path in ("receivers.otlp.protocols.grpc.include_metadata",
                 "processors.batch.metadata_keys",
                 "exporters.logging: the `logging` exporter is deprecated",
                 "exporters.logging.loglevel",
                 "service.telemetry.logs.disable_stacktrace"):
        assert path in text, f"no warning for {path} in:\n{text}"
    # Each names its source file and line.
    assert all(re.match(r"warning: \S+c\.yaml:\d+: ", w) for w in warnings), text
