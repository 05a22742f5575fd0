"""The API's cold start does not import the Twilio SDK: only requests that talk to the carrier do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
sys.path[:0] = [{root!r}, {functions!r}]
from app import app
import callingbox.core.numbers, callingbox.core.carrier, chalicelib.runtime
from chalice.test import Client
with Client(app) as client:
    served = client.http.get("/v1/openapi.json").status_code
loaded = sorted(name for name in sys.modules if name == "twilio" or name.startswith("twilio."))
print(json.dumps({{"served": served, "twilio": loaded}}))
"""


def test_importing_the_app_and_serving_requests_leaves_twilio_unloaded() -> None:
    # GIVEN a fresh interpreter with no AWS to talk to (the requests below never reach the store)
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "CALLINGBOX_AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    script = PROBE.format(root=str(ROOT), functions=str(ROOT / "functions"))
    # WHEN the app is imported and serves a GET
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # THEN it answered, and no twilio module was imported
    assert report["served"] == 200
    assert report["twilio"] == []
