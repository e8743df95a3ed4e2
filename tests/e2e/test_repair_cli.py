"""`tracemend repair ...` runs the separate `tracemend-repair` binary (the edge collector
does not link the repair engine): arguments and exit status pass through, and a missing
engine is a clear error naming it."""

import os
import shutil
import subprocess

from conftest import binary


def test_repair_runs_the_engine_binary_beside_tracemend():
    engine = os.path.join(os.path.dirname(binary()), "tracemend-repair")
    assert os.path.exists(engine), "build it with cargo build --workspace --bins"
    via_cli = subprocess.run([binary(), "repair", "schema"], capture_output=True, text=True,
                             timeout=60)
    direct = subprocess.run([engine, "schema"], capture_output=True, text=True, timeout=60)
    assert via_cli.returncode == 0, via_cli.stderr
    assert via_cli.stdout == direct.stdout
    helped = subprocess.run([binary(), "repair", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "validate-envelope" in helped.stdout
    refused = subprocess.run([binary(), "repair", "no-such-command"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert "no-such-command" in refused.stderr


def test_a_missing_engine_is_named(tmp_path):
    alone = tmp_path / "tracemend"
    shutil.copy(binary(), alone)
    r = subprocess.run([str(alone), "repair", "schema"], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PATH": str(tmp_path)})
    assert r.returncode == 1
    assert "tracemend-repair" in r.stderr and "not found" in r.stderr, r.stderr


def test_the_collector_help_and_components_do_not_need_the_engine(tmp_path):
    alone = tmp_path / "tracemend"
    shutil.copy(binary(), alone)
    env = {**os.environ, "PATH": str(tmp_path)}
    r = subprocess.run([str(alone), "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and "repair" in r.stdout, r.stdout
    r = subprocess.run([str(alone), "components"], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode == 0 and "  otlp" in r.stdout, r.stderr
