"""The repair dashboard in a real browser: Debian's headless Chromium, driven through
WebDriver (selenium + chromedriver), against a real `tracemend-repair serve` with real
incidents. One incident of a small WSGI service in a git repository is reproduced in
Docker (so its page shows a run with the traceback the sandbox observed); the others are
refused by the reproduce stage (their service is not in the services map) and carry XSS
payloads in every free-text field of the envelope: exception type and message, frames,
route, path, query, headers, body, fixtures, service version and namespace. The
reproduced one carries payloads in its message, headers and query, and in the body value
the service's own exception echoes, so the payload is in the observed traceback too.

Asserted: login through the form, each page (list, filters, incident pages, overview,
logout) shows what it should; no planted script runs (each payload would change
document.title or set window.__pwned, or open an alert); the browser logs no
Content-Security-Policy violation from our own pages. Screenshots go to
tests/e2e/artifacts/ (kept by CI).

Needs chromium and chromium-driver (scripts/test installs them), the base image
(repair/images/build-python-base.sh) and a Docker engine.
"""

import json
import os
import pathlib
import secrets
import shutil
import subprocess

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ROOT, free_port, wait_for

BASE_IMAGE = "tracemend/python-base:bookworm"
TOKEN = "e2e-dashboard-token-" + secrets.token_hex(8)
READ_TOKEN = "e2e-dashboard-read-" + secrets.token_hex(8)
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"

# Each payload, if it ever became markup or ran, would change the title, set a global or
# open an alert.
PAYLOADS = [
    "<script>document.title='pwned';window.__pwned=1</script>",
    "\"><img src=x onerror=\"document.title='pwned';window.__pwned=2\">",
    "<svg/onload=window.__pwned=3>",
    "javascript:alert('pwned')",
    "</textarea></pre><iframe src=\"javascript:parent.__pwned=4\"></iframe>",
    "<a href=\"javascript:window.__pwned=5\" id=pwnlink>click</a>",
]

APP = '''"""Region lookup (plain WSGI)."""

import json
from wsgiref.simple_server import make_server

REGIONS = {"DE": "eu-central", "FR": "eu-west"}


def region_for(country):
    return REGIONS[country]


def application(environ, start_response):
    size = int(environ.get("CONTENT_LENGTH") or 0)
    doc = json.loads(environ["wsgi.input"].read(size) or b"{}")
    body = json.dumps({"region": region_for(doc.get("country", "DE"))}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    make_server("0.0.0.0", 8080, application).serve_forever()
'''
CRASH_LINE = APP.splitlines().index("    return REGIONS[country]") + 1


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(root: pathlib.Path) -> tuple[pathlib.Path, str]:
    repo = root / "regions"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "app.py")
    git(repo, "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "-q", "-m", "app")
    return repo, git(repo, "rev-parse", "HEAD")


def envelope(n: int, service: str, commit: str, *, crash: bool) -> dict:
    p = PAYLOADS[n % len(PAYLOADS)]
    q = PAYLOADS[(n + 1) % len(PAYLOADS)]
    env = {
        "schema_version": "1",
        "envelope_id": f"env-dash-{n:04d}-{secrets.token_hex(4)}",
        "identity": {
            "trace_id": secrets.token_hex(16), "span_id": secrets.token_hex(8),
            "service": {"name": service, "version": p, "namespace": q},
            "commit": commit, "timestamp": "2026-12-07T08:00:00Z",
        },
        "symptom": {
            "exception": {
                "type": "KeyError" if crash else f"Error{p}",
                "message_redacted": f"boom {p}",
                "frames": [{"file": "app.py", "line": CRASH_LINE, "function": "region_for",
                            "module": "app", "in_app": True}] if crash else
                          [{"file": f"app{p}.py", "line": 3, "function": f"handler{q}", "module": p,
                            "in_app": True}],
            },
            "fingerprint": secrets.token_hex(8),
            "status_code": 500,
        },
        "inputs": {
            "protocol": "http", "method": "POST",
            "route": "/region" if crash else f"/region/{p}",
            "path": "/region" if crash else "/region/<script>window.__pwned=9</script>",
            "headers": {"content-type": "application/json", "x-note": p},
            "query": {"q": q},
            # The service's KeyError echoes the country: the payload is in the traceback.
            "body": {"country": p, "note": q},
        },
    }
    if not crash:
        env["state"] = {"fixtures": {"user": {"name": p}}}
        env["environment"] = {"feature_flags": {q: True}}
    return env


def repair_binary() -> pathlib.Path:
    """`$TRACEMEND_REPAIR_BIN`, else `tracemend-repair` beside the collector binary."""
    path = os.environ.get("TRACEMEND_REPAIR_BIN") or os.path.join(
        os.path.dirname(os.environ.get("TRACEMEND_BIN") or str(ROOT / "target" / "debug" / "tracemend")),
        "tracemend-repair")
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: cargo build --bins -p repair")
    return pathlib.Path(path)


class Engine:
    def __init__(self, tmp_path: pathlib.Path, repo: pathlib.Path):
        self.port = free_port()
        self.dir = tmp_path / "engine"
        self.dir.mkdir()
        self.log_path = self.dir / "engine.log"
        config = self.dir / "repair.yaml"
        config.write_text(json.dumps({
            "listen": f"127.0.0.1:{self.port}",
            "auth": {"token_env": "TRACEMEND_REPAIR_TOKEN"},
            "dashboard": {"read_token_env": "DASH_READ_TOKEN"},
            "store": {"path": str(self.dir / "repair.db")},
            "data_dir": str(self.dir / "data"),
            "workers": 2,
            "stages": ["reproduce"],
            "sandbox": {"timeout": "180s"},
            "reproduce": {"runs": 1, "ready_timeout": "90s", "request_timeout": "60s"},
            "services": {"regions": {"repository": str(repo), "base_image": BASE_IMAGE,
                                     "command": ["python3", "app.py"], "port": 8080,
                                     "test_command": ["python3", "-m", "unittest"]}},
        }))
        engine_bin = repair_binary()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(engine_bin), "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, TRACEMEND_REPAIR_TOKEN=TOKEN, DASH_READ_TOKEN=READ_TOKEN,
                     RUST_LOG="info"))
        log.close()
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self.ready, timeout=60, what=f"the repair engine (log: {self.log_path})")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"engine exited: {self.log_path.read_text(errors='replace')}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def post(self, env: dict) -> requests.Response:
        return requests.post(f"{self.url}/v1/envelopes", json=env, timeout=30,
                             headers={"Authorization": f"Bearer {TOKEN}"})

    def incident(self, n: int) -> dict:
        r = requests.get(f"{self.url}/v1/incidents/{n}", timeout=10,
                         headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def remove_images_of(commit: str):
    """The service images built for this run's commit (every run makes a fresh one)."""
    ids = subprocess.run(["docker", "images", "-q", "--filter",
                          f"label=org.tracemend.repair.commit={commit}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rmi", "-f", *ids], capture_output=True)


def chromium() -> webdriver.Chrome:
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("chromium and chromedriver are missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1700", "--no-first-run", "--disable-extensions"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def click_and_wait(driver, css: str):
    """Clicks a form's button and waits for the page it loads (a click returns before)."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(driver, 60).until(staleness_of(page))
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def shot(driver, name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))


def assert_nothing_ran(driver, title: str):
    try:
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise AssertionError(f"a planted script opened an alert: {text!r}")
    except NoAlertPresentException:
        pass
    assert driver.title == title, driver.title
    assert driver.execute_script("return window.__pwned") is None
    assert driver.find_elements(By.ID, "pwnlink") == [], "a planted link became markup"
    assert driver.find_elements(By.CSS_SELECTOR, "main iframe, main img, main script") == []


def csp_violations(driver) -> list[str]:
    entries = driver.get_log("browser")
    return [e["message"] for e in entries
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]


def test_dashboard_pages_in_chromium_run_no_planted_script(tmp_path):
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        pytest.fail(f"{BASE_IMAGE} is missing: run repair/images/build-python-base.sh")
    repo, commit = make_repo(tmp_path)
    engine = Engine(tmp_path, repo)
    driver = None
    try:
        # Markup in a service name never gets in: the schema refuses it at intake.
        bad = envelope(0, "regions", commit, crash=False)
        bad["identity"]["service"]["name"] = "<script>x</script>"
        r = engine.post(bad)
        assert r.status_code == 400 and r.json()["path"] == "/identity/service/name", r.text

        crash = engine.post(envelope(0, "regions", commit, crash=True))
        assert crash.status_code == 202, crash.text
        crash_id = crash.json()["incident_id"]
        ghost_ids = []
        for n in range(1, len(PAYLOADS) + 1):
            r = engine.post(envelope(n, "ghost", commit, crash=False))
            assert r.status_code == 202, r.text
            ghost_ids.append(r.json()["incident_id"])
        done = {"succeeded", "rejected", "failed"}
        wait_for(lambda: all(engine.incident(i)["status"] in done for i in [crash_id, *ghost_ids]),
                 timeout=420, interval=1, what="every incident to end")
        reproduced = engine.incident(crash_id)
        stage = reproduced["stages"][0]
        assert stage["result"]["verdict"] == "reproduced", json.dumps(reproduced, indent=1)

        driver = chromium()
        driver.set_page_load_timeout(60)
        # Not logged in: the login page, which brings the browser back after the login.
        driver.get(f"{engine.url}/ui/incidents/{crash_id}")
        assert driver.current_url.startswith(f"{engine.url}/ui/login?next="), driver.current_url
        shot(driver, "login")
        driver.find_element(By.ID, "token").send_keys("not-the-token-at-all")
        click_and_wait(driver, "form[action='/ui/login'] button")
        assert "That token is not valid." in driver.find_element(By.TAG_NAME, "main").text
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        click_and_wait(driver, "form[action='/ui/login'] button")
        assert driver.current_url == f"{engine.url}/ui/incidents/{crash_id}", driver.current_url
        cookie = driver.get_cookie("tracemend_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert driver.execute_script("return document.cookie") == "", "scripts cannot read the session"

        # The reproduced incident: the run and the traceback the sandbox observed, with the
        # echoed payload as text.
        main = driver.find_element(By.TAG_NAME, "main").text
        assert f"Incident {crash_id}: KeyError in regions" in main
        assert "Reproduction: reproduced" in main
        traceback = driver.find_element(By.CSS_SELECTOR, "#reproduction pre.traceback").text
        assert "Traceback (most recent call last)" in traceback and "KeyError" in traceback
        assert PAYLOADS[0] in traceback, traceback
        assert driver.find_element(By.ID, "message").text == f"boom {PAYLOADS[0]}"
        # The input is shown as JSON text (its quotes escaped the JSON way).
        assert json.dumps(PAYLOADS[1]) in driver.find_element(By.ID, "original-input").text
        assert len(driver.find_elements(By.CSS_SELECTOR, "#timeline svg rect.bar")) == 2
        assert_nothing_ran(driver, f"Incident {crash_id} · tracemend")
        shot(driver, "incident-reproduced")

        # The list, then a filter by service and status.
        driver.get(f"{engine.url}/ui/")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.incidents tbody tr")
        assert len(rows) == 1 + len(ghost_ids)
        assert_nothing_ran(driver, "Incidents · tracemend")
        shot(driver, "incidents")
        Select(driver.find_element(By.ID, "service")).select_by_value("ghost")
        Select(driver.find_element(By.ID, "status")).select_by_value("rejected")
        click_and_wait(driver, "form.filters button")
        assert "service=ghost" in driver.current_url and "status=rejected" in driver.current_url
        rows = driver.find_elements(By.CSS_SELECTOR, "table.incidents tbody tr")
        assert len(rows) == len(ghost_ids), [r.text for r in rows]
        assert all("ghost" in r.text and "rejected" in r.text for r in rows)
        assert_nothing_ran(driver, "Incidents · tracemend")

        # Every refused incident: its payloads are on the page, as text.
        for n, i in enumerate(ghost_ids, start=1):
            driver.get(f"{engine.url}/ui/incidents/{i}")
            p = PAYLOADS[n % len(PAYLOADS)]
            assert driver.find_element(By.ID, "exception-type").text == f"Error{p}"
            assert driver.find_element(By.ID, "service-version").text == p
            assert driver.find_element(By.ID, "request").text == f"POST /region/{p}"
            assert "ghost" in driver.find_element(By.ID, "reason").text
            assert_nothing_ran(driver, f"Incident {i} · tracemend")
            if n == 1:
                shot(driver, "incident-rejected")

        # The overview: five charts, the totals.
        driver.get(f"{engine.url}/ui/overview?range=24h")
        assert len(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg")) == 5
        assert driver.find_element(By.ID, "total-incidents").text == str(1 + len(ghost_ids))
        assert driver.find_element(By.ID, "total-time-to-repro").text != "—"
        assert_nothing_ran(driver, "Overview · tracemend")
        shot(driver, "overview")

        violations = csp_violations(driver)
        assert violations == [], violations

        # The control: the browser does enforce our policy and the check above sees what
        # it refuses. A script element added to the page (by WebDriver, which the policy
        # does not govern) is refused, and the refusal is logged.
        driver.execute_script(
            "var s = document.createElement('script'); s.textContent = 'window.__pwned = 7';"
            "document.body.appendChild(s);")
        assert driver.execute_script("return window.__pwned") is None, "the CSP did not refuse it"
        refused = wait_for(lambda: csp_violations(driver), timeout=10, what="the CSP refusal in the log")
        assert any("script" in m for m in refused), refused

        # Logout ends the session: the list sends the browser back to the login.
        click_and_wait(driver, "form.logout button")
        assert driver.current_url == f"{engine.url}/ui/login"
        driver.get(f"{engine.url}/ui/")
        assert driver.current_url.startswith(f"{engine.url}/ui/login")

        # The read-only token logs in too.
        driver.find_element(By.ID, "token").send_keys(READ_TOKEN)
        click_and_wait(driver, "form[action='/ui/login'] button")
        assert driver.current_url == f"{engine.url}/ui/"
        assert "read-only" in driver.find_element(By.CSS_SELECTOR, "header .who").text
        assert csp_violations(driver) == []
    finally:
        if driver is not None:
            driver.quit()
        engine.stop()
        remove_images_of(commit)
