"""`attributes`, `resource` and `resourcedetection` in the real binary: the Python
OpenTelemetry SDK sends spans and logs over OTLP, the `file` exporter's output shows the
actions applied to the items that include/exclude select, the resource changed, and the
attributes detected from the environment, the host and the Docker daemon. Bad configs
stop `tracemend validate` with the path of the problem."""

import hashlib
import json
import logging
import pathlib
import subprocess

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from conftest import attrs, binary, logs_in, spans_in, wait_for


def at_least(read, n):
    def check():
        items = read()
        return items if len(items) >= n else None
    return check


def start(collectors, tmp_path, processors, names, signals=("traces", "logs")):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors=processors,
        pipelines={s: {"receivers": ["otlp"], "processors": names, "exporters": ["file"]} for s in signals},
    ).start()
    return c, out


def send_spans(c, service="shop"):
    provider = TracerProvider(resource=Resource.create({"service.name": service, "host.name": "sdk-host"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=c.grpc_endpoint, insecure=True)))
    tracer = provider.get_tracer("e2e.attributes", "1.2.0")
    with tracer.start_as_current_span("GET /users/42", kind=SpanKind.SERVER, attributes={
            "http.url": "https://shop.example/users/42?token=abc",
            "user.email": "bob@example.com", "db.password": "hunter2", "http.status_code": "200",
            "internal.debug": "x", "internal.trace": "y"}):
        pass
    with tracer.start_as_current_span("SELECT users", kind=SpanKind.CLIENT, attributes={
            "user.email": "eve@example.com", "db.password": "letmein"}):
        pass
    provider.shutdown()


ATTRIBUTES = {
    "include": {"match_type": "strict", "services": ["shop"], "libraries": [{"name": "e2e.attributes"}]},
    "exclude": {"match_type": "regexp", "span_names": ["^SELECT"]},
    "actions": [
        {"key": "env", "value": "prod", "action": "insert"},
        {"key": "user.email", "action": "hash"},
        {"key": "db.password", "action": "delete"},
        {"pattern": "^internal\\.", "action": "delete"},
        {"key": "http.url", "pattern": "^https://(?P<http_host>[^/]+)(?P<http_path>/[^?]*)", "action": "extract"},
        {"key": "http.status_code", "converted_type": "int", "action": "convert"},
        {"key": "route", "from_attribute": "http_path", "action": "upsert"},
        {"key": "env", "value": "ignored", "action": "insert"},
        {"key": "missing", "value": "never", "action": "update"},
    ],
}


def test_attributes_actions_on_selected_spans(tmp_path, collectors):
    c, out = start(collectors, tmp_path, {"attributes": ATTRIBUTES}, ["attributes"], ("traces",))
    send_spans(c)
    spans = wait_for(at_least(lambda: spans_in(out), 2), what="2 spans")
    by_name = {s["span"]["name"]: attrs(s["span"]["attributes"]) for s in spans}

    server = by_name["GET /users/42"]
    assert server["env"] == "prod"
    assert server["user.email"] == hashlib.sha256(b"bob@example.com").hexdigest()
    assert "db.password" not in server
    assert not [k for k in server if k.startswith("internal.")], server
    assert server["http_host"] == "shop.example"
    assert server["http_path"] == "/users/42"
    assert server["route"] == "/users/42"
    assert server["http.status_code"] == 200, "converted to an int"
    assert "missing" not in server

    # Excluded by span name: untouched.
    client = by_name["SELECT users"]
    assert client == {"user.email": "eve@example.com", "db.password": "letmein"}, client


def test_attributes_on_logs_by_severity_and_body(tmp_path, collectors):
    processors = {"attributes": {
        "include": {"match_type": "regexp", "log_bodies": ["fail"],
                    "log_severity_number": {"min": "WARN"}},
        "actions": [{"key": "alert", "value": True, "action": "upsert"}],
    }}
    c, out = start(collectors, tmp_path, processors, ["attributes"], ("logs",))
    provider = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{c.http_endpoint}/v1/logs")))
    log = logging.getLogger("e2e.attributes")
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    log.setLevel(logging.DEBUG)
    log.info("login failed once")      # body matches, severity too low
    log.error("payment failed")        # both match
    log.error("disk full")             # severity matches, body does not
    provider.shutdown()
    logs = wait_for(at_least(lambda: logs_in(out), 3), what="3 log records")
    alerted = sorted(l["log"]["body"]["stringValue"] for l in logs if attrs(l["log"]["attributes"]).get("alert") is True)
    assert alerted == ["payment failed"], alerted


def test_resource_processor_changes_every_signal(tmp_path, collectors):
    processors = {"resource": {"attributes": [
        {"key": "deployment.environment.name", "value": "staging", "action": "upsert"},
        {"key": "host.name", "action": "delete"},
        {"key": "service.name", "action": "hash"},
    ]}}
    c, out = start(collectors, tmp_path, processors, ["resource"])
    send_spans(c)
    spans = wait_for(at_least(lambda: spans_in(out), 2), what="2 spans")
    r = attrs(spans[0]["resource"]["attributes"])
    assert r["deployment.environment.name"] == "staging"
    assert "host.name" not in r
    assert r["service.name"] == hashlib.sha256(b"shop").hexdigest()


def docker_info(field):
    r = subprocess.run(["docker", "info", "--format", "{{." + field + "}}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_resourcedetection_env_docker_system_and_absent_clouds(tmp_path, collectors, monkeypatch):
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=pay%20ments,service.name=from-env")
    processors = {"resourcedetection": {
        "detectors": ["env", "docker", "system", "ec2", "gcp", "azure", "ecs", "eks", "heroku", "consul"],
        "override": False,
        "timeout": "2s",
        "system": {"hostname_sources": ["os"], "resource_attributes": {"host.id": {"enabled": True}}},
        "ec2": {"tags": ["^team$"]},
    }}
    c, out = start(collectors, tmp_path, processors, ["resourcedetection"], ("traces",))
    send_spans(c)
    spans = wait_for(at_least(lambda: spans_in(out), 2), what="2 spans")
    r = attrs(spans[0]["resource"]["attributes"])
    assert r["team"] == "pay ments"
    # override: false keeps what the SDK sent.
    assert r["service.name"] == "shop"
    assert r["host.name"] == "sdk-host"
    # From the Docker daemon (docker comes before system, so its os.type is kept).
    assert r["os.type"] == docker_info("OSType")
    machine_id = pathlib.Path("/etc/machine-id")
    if machine_id.exists() and machine_id.read_text().strip():
        assert r["host.id"] == machine_id.read_text().strip()
    log = c.log()
    for name in ("ec2", "gcp", "azure", "ecs", "eks", "heroku", "consul"):
        assert f"detector={name}" in log or f'detector="{name}"' in log, (name, log[-3000:])
    assert "added nothing" in log


def test_resourcedetection_override_replaces(tmp_path, collectors):
    processors = {"resourcedetection": {"detectors": ["docker", "system"]}}
    c, out = start(collectors, tmp_path, processors, ["resourcedetection"], ("traces",))
    send_spans(c)
    spans = wait_for(at_least(lambda: spans_in(out), 2), what="2 spans")
    r = attrs(spans[0]["resource"]["attributes"])
    assert r["host.name"] == docker_info("Name"), "docker's host.name wins: first detector, override true"


def validate(tmp_path, processors, signal="traces"):
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "processors": processors,
        "exporters": {"nop": {}},
        "service": {"pipelines": {signal: {"receivers": ["otlp"], "processors": list(processors), "exporters": ["nop"]}}},
    }
    p = tmp_path / "c.yaml"
    p.write_text(json.dumps(cfg))
    r = subprocess.run([binary(), "validate", "--config", str(p)], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_bad_configs_name_the_path(tmp_path):
    cases = [
        ({"attributes": {}}, "processors.attributes.actions"),
        ({"attributes": {"actions": [{"key": "a", "action": "upsert"}]}}, "processors.attributes.actions[0]"),
        ({"attributes": {"actions": [{"key": "a", "pattern": "(", "action": "extract"}]}},
         "processors.attributes.actions[0].pattern"),
        ({"attributes": {"include": {"services": ["x"]}, "actions": [{"key": "a", "action": "delete"}]}},
         "processors.attributes.include.match_type"),
        ({"resource": {"attributes": [{"key": "a", "action": "convert", "converted_type": "float"}]}},
         "processors.resource.attributes[0].converted_type"),
        ({"resourcedetection": {"detectors": ["env", "k8s"]}}, "processors.resourcedetection.detectors[1]"),
        ({"resourcedetection": {"detectors": ["system"], "system": {"hostname_sources": ["ldap"]}}},
         "processors.resourcedetection.system.hostname_sources[0]"),
    ]
    for processors, path in cases:
        code, text = validate(tmp_path, processors)
        assert code != 0 and path in text, (processors, text)


def test_signal_specific_match_keys_stop_startup(tmp_path, collectors):
    # log_bodies in a traces pipeline: otelcol refuses it when building the pipeline.
    processors = {"attributes": {"include": {"match_type": "strict", "log_bodies": ["x"]},
                                 "actions": [{"key": "a", "action": "delete"}]}}
    c = collectors(exporters={"nop": {}}, processors=processors,
                   pipelines={"traces": {"receivers": ["otlp"], "processors": ["attributes"], "exporters": ["nop"]}})
    c.config_path.write_text(json.dumps(c.config))
    proc = subprocess.run([binary(), "--config", str(c.config_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "processors.attributes.include.log_bodies does not apply to traces" in proc.stderr + proc.stdout
