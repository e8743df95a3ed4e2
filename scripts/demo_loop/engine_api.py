"""The repair engine's JSON API, as the demo reads it (bearer token, standard library)."""

import json
import urllib.error
import urllib.request

from procs import DemoError


class EngineApi:
    def __init__(self, base_url: str, token: str):
        self.base = base_url.rstrip("/")
        self.token = token

    def get(self, path: str):
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise DemoError(f"GET {self.base}{path} answered {e.code}: {e.read()[:500]!r}") from None
        except (OSError, urllib.error.URLError, ValueError) as e:
            raise DemoError(f"GET {self.base}{path} failed: {e}") from None

    def incidents(self, service: str) -> list:
        return [i for i in self.get("/v1/incidents?limit=20")["incidents"] if i.get("service") == service]

    def incident(self, incident_id: int) -> dict:
        return self.get(f"/v1/incidents/{incident_id}")

    def incident_url(self, incident_id: int) -> str:
        return f"{self.base}/v1/incidents/{incident_id}"
