"""tracemend-capture's settings and resource: credential headers refused with a clear
error, and the commit's fallback chain, down to `git rev-parse HEAD` in a real
repository."""

import logging
import subprocess

import pytest

import tracemend_capture
from tracemend_capture import CaptureConfigError, CommitError, capture_config, capture_resource, resolve_commit

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("name", ["authorization", "Authorization", " COOKIE ", "set-cookie",
                                  "Proxy-Authorization", "X-API-KEY"])
@pytest.mark.parametrize("setting", ["headers", "extra_headers"])
def test_credential_headers_are_refused(name, setting):
    with pytest.raises(CaptureConfigError) as err:
        capture_config(**{setting: ["x-request-id", name]})
    message = str(err.value)
    assert message.startswith(f"{setting}: {name!r} carries credentials"), message
    assert "authorization, cookie, proxy-authorization, set-cookie, x-api-key" in message


@pytest.mark.parametrize("kwargs,expected", [
    ({"headers": "x-request-id"}, "headers: expected a list of header names"),
    ({"extra_headers": ["x request"]}, "extra_headers: 'x request' is not a header name"),
    ({"extra_headers": [42]}, "extra_headers: header names are strings, got 42"),
    ({"body_limit": -1}, "body_limit: expected a number of bytes >= 0, got -1"),
    ({"body_limit": "16k"}, "body_limit: expected a number of bytes >= 0, got '16k'"),
    ({"route": "/orders/{id}"}, "route: expected a function of the environ or scope"),
])
def test_bad_settings_name_the_setting(kwargs, expected):
    with pytest.raises(CaptureConfigError) as err:
        capture_config(**kwargs)
    assert str(err.value).startswith(expected), str(err.value)


def test_allowlist_defaults_and_content_type_always():
    config = capture_config(headers=["X-Tenant"], body_limit=0)
    assert config.headers == {"x-tenant", "content-type"}
    assert config.body_limit == 0
    default = capture_config()
    assert default.body_limit == 16 * 1024
    assert not default.headers & tracemend_capture.CREDENTIAL_HEADERS


def real_repo(path):
    git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"]
    subprocess.run(git + ["init", "-q"], cwd=path, check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "one"], cwd=path, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_commit_chain_order(tmp_path):
    head = real_repo(tmp_path)
    other = "fedcba9876543210fedcba9876543210fedcba98"
    env = {
        "TRACEMEND_COMMIT": SHA.upper(),
        "OTEL_RESOURCE_ATTRIBUTES": f"service.version=2,vcs.ref.head.revision={other}",
        "GIT_COMMIT": "1111111",
        "GITHUB_SHA": "2222222",
    }
    assert resolve_commit("abcdef0", environ=env, cwd=str(tmp_path)) == ("abcdef0", "the commit argument")
    assert resolve_commit(None, environ=env, cwd=str(tmp_path)) == (SHA, "TRACEMEND_COMMIT")
    del env["TRACEMEND_COMMIT"]
    assert resolve_commit(None, environ=env, cwd=str(tmp_path))[0] == other
    del env["OTEL_RESOURCE_ATTRIBUTES"]
    assert resolve_commit(None, environ=env, cwd=str(tmp_path)) == ("1111111", "GIT_COMMIT")
    del env["GIT_COMMIT"]
    assert resolve_commit(None, environ=env, cwd=str(tmp_path)) == ("2222222", "GITHUB_SHA")
    assert resolve_commit(None, environ={"GITHUB_SHA": "  "}, cwd=str(tmp_path)) == (
        head, f"git rev-parse HEAD in {tmp_path}")


@pytest.mark.parametrize("explicit,env,source", [
    ("main", {}, "the commit argument"),
    (None, {"TRACEMEND_COMMIT": "v1.2.3"}, "TRACEMEND_COMMIT"),
    (None, {"SOURCE_COMMIT": "abc"}, "SOURCE_COMMIT"),
    (None, {"GIT_COMMIT": "g" * 40}, "GIT_COMMIT"),
])
def test_a_commit_that_is_not_one_names_its_source(tmp_path, explicit, env, source):
    with pytest.raises(CommitError) as err:
        resolve_commit(explicit, environ=env, cwd=str(tmp_path))
    assert str(err.value).startswith(f"{source}: "), str(err.value)
    assert "is not a commit (7 to 40 hex digits)" in str(err.value)


def test_no_commit_anywhere_leaves_the_attribute_out_and_says_how_to_set_it(tmp_path, monkeypatch, caplog):
    for name in ("TRACEMEND_COMMIT", "OTEL_RESOURCE_ATTRIBUTES") + tracemend_capture.COMMIT_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert resolve_commit(None, environ={}, cwd=str(tmp_path))[0] is None  # not a repository
    with caplog.at_level(logging.WARNING, logger="tracemend_capture.resource"):
        resource = capture_resource(service_name="orders", cwd=str(tmp_path))
    assert "vcs.ref.head.revision" not in resource.attributes
    assert resource.attributes["service.name"] == "orders"
    assert "No commit for the resource attribute vcs.ref.head.revision" in caplog.text
    assert "set TRACEMEND_COMMIT" in caplog.text


def test_resource_arguments_win_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.version=9,deployment.environment.name=prod,team=pay")
    monkeypatch.setenv("TRACEMEND_COMMIT", SHA)
    env_only = capture_resource(cwd=str(tmp_path)).attributes
    assert env_only["service.name"] == "from-env"
    assert env_only["service.version"] == "9"
    assert env_only["deployment.environment.name"] == "prod"
    assert env_only["team"] == "pay"
    assert env_only["vcs.ref.head.revision"] == SHA
    given = capture_resource("abcdef1", service_name="orders", service_version="1.0",
                             environment="staging", cwd=str(tmp_path)).attributes
    assert (given["service.name"], given["service.version"], given["deployment.environment.name"]) == (
        "orders", "1.0", "staging")
    assert given["vcs.ref.head.revision"] == "abcdef1"
    assert given["team"] == "pay"
