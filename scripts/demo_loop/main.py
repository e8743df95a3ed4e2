"""The whole loop on this machine: the checkout example service, instrumented, sends its
spans to the collector (redact -> tail_sampling -> symbolize -> envelope), whose Failure
Envelopes go to the repair engine, which reproduces, minimizes, localizes, patches and
verifies in Docker and pushes a fix branch to a local bare repository.

Run through scripts/demo, which builds what is needed first and passes --bin-dir and
--python.
"""

import argparse
import hashlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import collector_metrics
import configs
import service_repo
import stages
from engine_api import EngineApi
from procs import DemoError, Proc, http_ok, port_or_free, free_port, wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "checkout"


class Demo:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.procs = []
        self.work = None
        self.owner = None
        self.token = None
        self.engine_proc = self.collector_proc = None
        self.otlp_url = self.collector_metrics_url = None
        self.summary = {"status": "not started"}

    def say(self, text: str = "") -> None:
        for line in text.splitlines() or [""]:
            print(f"[{time.monotonic() - self.t0:6.1f}s] {line}", flush=True)

    def binary(self, name: str) -> pathlib.Path:
        path = pathlib.Path(self.args.bin_dir) / name
        if not os.access(path, os.X_OK):
            raise DemoError(f"{path} is missing or not executable (build it: cargo build --release --bins)")
        return path

    def run(self) -> int:
        collector_bin, engine_bin, symbols_bin = (self.binary(n) for n in
                                                  ("tracemend", "tracemend-repair", "tracemend-symbols"))
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="tracemend-demo."))
        self.summary.update(status="running", work_dir=str(self.work))
        self.say(f"work directory {self.work}")

        repo, commit, remote = service_repo.make_repository(EXAMPLE, self.work, self.args.remote)
        self.say(f"service repository {repo} at commit {commit[:12]}; fix branches go to {remote}")
        index = self.work / "symbols" / f"checkout-{commit[:12]}.idx"
        index.parent.mkdir()
        service_repo.build_symbol_index(symbols_bin, repo, commit, index)
        self.say(f"symbol index of {commit[:12]} built with tracemend-symbols: {index}")

        engine_api = self.start_engine(engine_bin, repo, remote)
        self.start_collector(collector_bin, engine_api.base, repo, commit, index)
        service_url = self.start_service()

        self.say("sending mixed traffic (web shoppers; the mobile app now and then) until the bug fires")
        traffic = subprocess.run([self.args.python, str(repo / "traffic.py"), "--url", service_url,
                                  "--seed", str(self.args.seed)], cwd=repo, capture_output=True, text=True)
        for line in (traffic.stdout + traffic.stderr).splitlines():
            self.say("  " + line)
        if traffic.returncode != 0:
            raise DemoError("the traffic generator ended without the bug firing (see above)")

        incident = self.wait_for_incident(engine_api)
        incident = self.follow(engine_api, incident["id"])
        return self.finish(engine_api, incident, commit, remote)

    def start_engine(self, engine_bin, repo, remote) -> EngineApi:
        port = port_or_free(self.args.engine_port)
        token = secrets.token_urlsafe(24)
        (self.work / "engine").mkdir()
        data_dir = self.work / "engine" / "data"
        data_dir.mkdir()
        # coverage.py, which the engine vendors into its images with the host's pip, is
        # kept across runs, so only the first run on a machine fetches it.
        vendor = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "tracemend" / "demo-vendor"
        vendor.mkdir(parents=True, exist_ok=True)
        (data_dir / "vendor").symlink_to(vendor, target_is_directory=True)
        config = configs.engine(port, self.work, repo, remote)
        path = self.work / "engine" / "repair.yaml"
        path.write_text(json.dumps(config, indent=2))
        # The engine labels its images and containers with this id (repair::serve::owner_id).
        store = pathlib.Path(config["store"]["path"])
        canonical = os.path.join(os.path.realpath(store.parent), store.name)
        self.owner = hashlib.sha256(canonical.encode()).hexdigest()[:12]
        self.summary["engine_owner"] = self.owner
        env = dict(os.environ, **{configs.ENGINE_TOKEN_ENV: token}, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        proc = self.engine_proc = self.spawn("repair engine", [str(engine_bin), "serve", "--config", str(path)],
                                             env=env)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{base}/healthz"), 120, "the repair engine's /healthz", proc)
        self.token = token
        self.say(f"repair engine on {base} (all five stages); dashboard {base}/ui/")
        return EngineApi(base, token)

    def start_collector(self, collector_bin, engine_url, repo, commit, index) -> None:
        ports = {"otlp": port_or_free(self.args.otlp_port), "health": free_port(), "metrics": free_port()}
        path = self.work / "collector.yaml"
        path.write_text(json.dumps(configs.collector(ports, engine_url, repo, commit, index), indent=2))
        env = dict(os.environ, **{configs.COLLECTOR_TOKEN_ENV: self.token,
                                  configs.REDACT_KEY_ENV: secrets.token_hex(24)})
        proc = self.collector_proc = self.spawn("collector", [str(collector_bin), "--config", str(path)], env=env)
        # The first start on a machine compiles the WASM guests (minutes for a debug
        # build); later starts load them from the cache.
        wait_until(lambda: http_ok(f"http://127.0.0.1:{ports['health']}/"), 900,
                   "the collector's health_check", proc, interval=0.5)
        self.otlp_url = f"http://127.0.0.1:{ports['otlp']}"
        self.collector_metrics_url = f"http://127.0.0.1:{ports['metrics']}/metrics"
        self.say(f"collector on {self.otlp_url} (OTLP/HTTP): redact -> tail_sampling -> symbolize -> envelope")

    def start_service(self) -> str:
        port = port_or_free(self.args.service_port)
        env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=self.otlp_url, HOST="127.0.0.1", PORT=str(port))
        repo = self.work / "checkout"
        proc = self.spawn("checkout service", [self.args.python, "serve.py"], cwd=repo, env=env)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/healthz"), 60, "the checkout service's /healthz", proc)
        self.say(f"checkout service on {url}, instrumented with tracemend-capture")
        return url

    def spawn(self, name, argv, cwd=None, env=None) -> Proc:
        log = self.work / (name.replace(" ", "-") + ".log")
        proc = Proc(name, argv, log, cwd=cwd, env=env)
        self.procs.append(proc)
        return proc

    def wait_for_incident(self, api: EngineApi) -> dict:
        self.say("waiting for the envelope: tail sampling decides, the trace joins, the envelope is posted")
        incident = wait_until(lambda: next(iter(api.incidents(configs.SERVICE)), None), 180,
                              "an incident at the repair engine", self.collector_proc, interval=0.5)
        self.say(f"incident {incident['id']}: {api.incident_url(incident['id'])} "
                 f"(fingerprint {incident['fingerprint']}, {incident['occurrences']} occurrence(s))")
        return incident

    def follow(self, api: EngineApi, incident_id: int) -> dict:
        seen = {}
        job_status = None
        deadline = time.monotonic() + self.args.timeout
        while True:
            self.engine_proc.check_running()
            incident = api.incident(incident_id)
            for stage in incident.get("stages", []):
                name, status = stage.get("name"), stage.get("status")
                if seen.get(name) == status:
                    continue
                seen[name] = status
                if status == "running":
                    self.say(f"[{name}] running")
                else:
                    took = stage.get("duration_ms")
                    self.say(f"[{name}] {status}" + (f" in {took / 1000:.1f}s" if took is not None else ""))
                    for line in stages.describe(stage):
                        self.say(f"    {line}")
            if incident["status"] != job_status:
                job_status = incident["status"]
                reason = incident.get("reason")
                if job_status not in ("running", "queued") or reason:
                    self.say(f"job {job_status}" + (f": {reason}" if reason else ""))
            if job_status in stages.TERMINAL:
                return incident
            if time.monotonic() > deadline:
                raise DemoError(f"incident {incident_id} did not finish within {self.args.timeout}s "
                                f"(job {job_status}; engine log: {self.engine_proc.log_path})")
            time.sleep(1)

    def finish(self, api: EngineApi, incident: dict, commit: str, remote: pathlib.Path) -> int:
        iid = incident["id"]
        verify = next((s.get("result") or {} for s in incident.get("stages", []) if s.get("name") == "verify"), {})
        branch = verify.get("branch") if isinstance(verify, dict) else None
        self.summary.update(
            status=incident["status"], incident=iid, incident_url=api.incident_url(iid),
            dashboard_url=f"{api.base}/ui/", base_commit=commit, remote=str(remote), branch=branch,
            stages=[{k: s.get(k) for k in ("name", "status", "duration_ms")} for s in incident.get("stages", [])],
            elapsed_s=round(time.monotonic() - self.t0, 1))
        edge_line, self.summary["edge"] = collector_metrics.edge_summary(self.collector_metrics_url)
        self.say(edge_line)
        self.say("")
        self.say(f"incident    {api.incident_url(iid)}")
        self.say(f"bundle      {api.base}/v1/incidents/{iid}/bundle?format=markdown")
        self.say(f"dashboard   {api.base}/ui/")
        self.say(f"API token   {self.token}   (curl -H 'Authorization: Bearer <token>' ...)")
        if incident["status"] != "succeeded" or not branch:
            self.say(f"no fix branch: job {incident['status']}: {incident.get('reason')}")
            return 1
        name = branch["name"]
        self.say(f"fix branch  {name} in {remote}")
        log = service_repo.git(remote, "log", "--format=%h %s", f"{commit}..{name}")
        stat = service_repo.git(remote, "diff", "--stat", commit, name)
        fix = service_repo.git(remote, "diff", branch["test_commit"], branch["fix_commit"])
        self.say("git log:\n" + log)
        self.say("git diff --stat:\n" + stat)
        self.say("the fix:\n" + fix)
        return 0

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            started = time.monotonic()
            proc.stop()
            self.say(f"stopped the {proc.name} ({time.monotonic() - started:.1f}s)")
        if self.owner and not self.args.keep:
            # The engine removes its containers itself; its service images stay cached
            # unless removed here (a rerun builds them again in seconds).
            for kind in (["ps", "-aq"], ["image", "ls", "-q"]):
                ids = subprocess.run(["docker", *kind, "--filter", f"label=org.tracemend.repair.owner={self.owner}"],
                                     capture_output=True, text=True).stdout.split()
                if ids:
                    rm = ["docker", "rm", "-f"] if kind[0] == "ps" else ["docker", "image", "rm", "-f"]
                    subprocess.run(rm + ids, capture_output=True)
        if self.work is not None:
            if self.args.keep:
                self.say(f"kept {self.work} (logs, configs, repositories) and the engine's images")
            else:
                shutil.rmtree(self.work, ignore_errors=True)
        if self.args.summary:
            pathlib.Path(self.args.summary).write_text(json.dumps(self.summary, indent=2))


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    p.add_argument("--bin-dir", required=True, help="directory with tracemend, tracemend-repair, tracemend-symbols")
    p.add_argument("--python", default=sys.executable,
                   help="Python with opentelemetry-sdk, the OTLP/HTTP exporter and tracemend-capture (runs the service)")
    p.add_argument("--engine-port", type=int, default=0, help="the repair engine's port (default: a free one)")
    p.add_argument("--otlp-port", type=int, default=0, help="the collector's OTLP/HTTP port (default: a free one)")
    p.add_argument("--service-port", type=int, default=0, help="the checkout service's port (default: a free one)")
    p.add_argument("--timeout", type=int, default=1200, help="seconds the incident may take through its stages")
    p.add_argument("--seed", type=int, default=7, help="seed of the traffic generator")
    p.add_argument("--keep", action="store_true", help="keep the work directory and the engine's images")
    p.add_argument("--remote", help="bare repository the fix branch is pushed to, kept afterwards "
                                    "(made when missing; default: one in the work directory)")
    p.add_argument("--stay", action=argparse.BooleanOptionalAction, default=None,
                   help="after the end, keep everything running until Ctrl-C (default: on a terminal)")
    p.add_argument("--summary", help="write a JSON summary of the run to this file")
    args = p.parse_args(argv)
    for name in ("engine_port", "otlp_port", "service_port"):
        if not 0 <= getattr(args, name) <= 65535:
            p.error(f"--{name.replace('_', '-')} must be a port number, got {getattr(args, name)}")
    # The service runs in its repository's directory: a relative interpreter path must
    # not depend on where the demo was started.
    found = shutil.which(args.python)
    if found is None:
        p.error(f"--python {args.python}: no such executable")
    args.python = os.path.abspath(found)
    if args.stay is None:
        args.stay = sys.stdin.isatty() and sys.stdout.isatty()
    return args


def _interrupt(signum, frame):
    # SIGTERM ends the demo like Ctrl-C: everything is stopped and removed.
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    # Also when started with SIGINT ignored (in the background of a script): `kill -INT`
    # stops the demo as Ctrl-C does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    demo = Demo(args)
    code = 1
    try:
        code = demo.run()
        if args.stay:
            demo.say("everything keeps running; press Ctrl-C to stop it and clean up")
            if not (args.keep or args.remote):
                demo.say(f"(that removes {demo.work}, the fix branch's repository with it: "
                         "--keep or --remote DIR keep it)")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        demo.say("stopping")
        if not (args.stay and code == 0):
            code = 130
            demo.summary["status"] = "interrupted"
    except DemoError as e:
        demo.summary.update(status="error", error=str(e))
        demo.say(f"error: {e}")
        code = 1
    finally:
        demo.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
