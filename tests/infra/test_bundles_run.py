"""The synthesized Lambda bundles run on their own: what the pruning dropped is really not needed.

Each bundle is run by CPython 3.12 (the bundles' wheels are cp312, as Lambda's runtime) with
``sys.path`` limited to the bundle plus a directory holding only what Lambda's Python runtime
provides (boto3, botocore, s3transfer, jmespath, dateutil, urllib3, six: symlinks into this venv,
all pure Python). No site-packages, no worktree: a module the pruning wrongly removed is an
ImportError here, not in production.

- API: ``app.app`` (the Chalice app) answers API Gateway proxy events: ``GET /v1/openapi.json``
  (200) and an unsigned Twilio status callback (403 ``invalid_signature``, which runs Twilio's
  RequestValidator); ``TwilioCarrier`` is built and sends a request to a loopback server answering
  like Twilio with an error (the SDK's transport, the REST layer and the error mapping).
- Workers: every handler module imports, and Powertools' batch processing handles an SQS batch.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import pytest

from infra.bundles import LAMBDA_PYTHON, RUNTIME_PROVIDED
from infra.synthesis import api_bundle
from tests.infra.template_queries import of_type

RESULT = "BUNDLE-RESULT "


def _python() -> Optional[str]:
    """A CPython of Lambda's version that really runs (a pyenv shim may exist without one)."""
    candidates = sorted(glob.glob(f"/root/.pyenv/versions/{LAMBDA_PYTHON}*/bin/python{LAMBDA_PYTHON}"))
    which = shutil.which(f"python{LAMBDA_PYTHON}")
    for candidate in [*candidates, *([which] if which else [])]:
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                               text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(int(p) for p in LAMBDA_PYTHON.split("."))):
            return candidate
    return None


PYTHON = _python()
pytestmark = pytest.mark.skipif(PYTHON is None, reason=f"no CPython {LAMBDA_PYTHON} here to run the cp"
                                f"{LAMBDA_PYTHON.replace('.', '')} bundles with")


@pytest.fixture(scope="module")
def runtime_provided(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with only the Lambda runtime's own packages (symlinks to this venv's copies)."""
    directory = tmp_path_factory.mktemp("lambda-runtime")
    for name in sorted(RUNTIME_PROVIDED):
        distribution = metadata.distribution(name)
        tops = {Path(str(file)).parts[0] for file in distribution.files or ()}
        for top in tops - {"..", "bin", "__pycache__"}:
            if top.endswith(".dist-info"):
                continue
            source = Path(distribution.locate_file(top))
            if source.exists() and not (directory / top).exists():
                (directory / top).symlink_to(source)
    assert {"boto3", "botocore", "urllib3", "jmespath", "dateutil", "six.py"} <= {p.name for p in directory.iterdir()}
    return directory


def _run(bundle: Path, runtime: Path, script: str) -> dict[str, Any]:
    """``script`` under Lambda's Python with only ``bundle`` and ``runtime`` importable; its result."""
    # -I: no PYTHON* variables, no user site; -S: no site-packages (the stdlib stays on sys.path);
    # -B: no bytecode written into the synthesized asset.
    prelude = f"import sys\nsys.path[:0] = [{str(bundle)!r}, {str(runtime)!r}]\n"
    environment = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "token",
                   "CALLINGBOX_PUBLIC_API_URL": "https://api.example.com", "POWERTOOLS_METRICS_NAMESPACE": "test",
                   "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(PYTHON), "-I", "-S", "-B", "-c", prelude + script], capture_output=True, text=True,
                            cwd=bundle, env=environment, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT)]
    assert lines, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(lines[-1][len(RESULT):])


API_SCRIPT = r'''
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Context:
    function_name = "api"; memory_limit_in_mb = 256; aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"

def event(method, resource, path, *, path_parameters=None, body=None, headers=None):
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": path_parameters, "stageVariables": None,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "path": "/api" + path,
                               "stage": "api", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                               "requestId": "req-1", "identity": {"sourceIp": "203.0.113.9"}},
            "body": body, "isBase64Encoded": False}

import app
result = {}
answer = app.app(event("GET", "/v1/openapi.json", "/v1/openapi.json"), Context())
result["openapi"] = [answer["statusCode"], json.loads(answer["body"]).get("openapi")]
answer = app.app(event("POST", "/twilio/calls/{workspace_id}/{call_id}/status", "/twilio/calls/ws_1/call_1/status",
                       path_parameters={"workspace_id": "ws_1", "call_id": "call_1"},
                       body="CallSid=CA" + "2" * 32 + "&CallStatus=ringing",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}), Context())
result["unsigned_status"] = [answer["statusCode"], json.loads(answer["body"])["error"]["code"]]

class Twilio(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"code": 21211, "message": "The 'To' number is not a valid phone number.",
                           "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}).encode()
        self.send_response(400); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Twilio)
threading.Thread(target=server.serve_forever, daemon=True).start()
from callingbox.core.carrier import CarrierError, DialRequest
from callingbox.core.carrier.twilio import TwilioCarrier
carrier = TwilioCarrier("AC" + "0" * 32, "x")
result["carrier"] = type(carrier).__name__
carrier = TwilioCarrier("AC" + "0" * 32, "x", api_base_url="http://127.0.0.1:%d" % server.server_address[1])
try:
    carrier.dial(DialRequest(to="+1415", from_="+14155550101", twiml="<Response/>",
                             status_callback_url="https://api.example.com/twilio/status"))
except CarrierError as error:
    result["dial_error"] = [error.code, error.status, error.retryable]
server.shutdown()
result["twilio_rest_loaded"] = any(name.startswith("twilio.rest") for name in sys.modules)
print("BUNDLE-RESULT " + json.dumps(result))
'''


def test_the_api_bundle_runs_with_only_the_lambda_runtime_beside_it(synthesis: Any, runtime_provided: Path,
                                                                     tmp_path: Path) -> None:
    bundle = tmp_path / "api"
    with zipfile.ZipFile(api_bundle(synthesis)) as archive:
        archive.extractall(bundle)
    assert not (bundle / "twilio" / "rest").exists()
    result = _run(bundle, runtime_provided, API_SCRIPT)
    assert result == {"openapi": [200, "3.1.0"], "unsigned_status": [403, "invalid_signature"],
                      "carrier": "TwilioCarrier", "dial_error": ["21211", 400, False],
                      "twilio_rest_loaded": False}, result


WORKERS_SCRIPT = r'''
import json
import workers.dialer, workers.extraction, workers.sweeper, workers.webhooks
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer
import callingbox.core.extraction.validation, callingbox.core.delivery.sender
from callingbox.core.carrier.twilio import TwilioCarrier

class Context:
    function_name = "worker"; memory_limit_in_mb = 256; aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:worker"

def record(message_id, body):
    return {"messageId": message_id, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
            "awsRegion": "us-east-1"}

def handle(record):
    if json.loads(record.body).get("fail"):
        raise ValueError("this record fails")

answer = process_partial_response(event={"Records": [record("m1", "{}"), record("m2", '{"fail": true}')]},
                                  record_handler=handle, processor=BatchProcessor(event_type=EventType.SQS),
                                  context=Context())
TwilioCarrier("AC" + "0" * 32, "x")
print("BUNDLE-RESULT " + json.dumps(answer))
'''


def test_the_workers_bundle_runs_with_only_the_lambda_runtime_beside_it(synthesis: Any,
                                                                         runtime_provided: Path) -> None:
    functions = of_type(synthesis.template["Resources"], "AWS::Lambda::Function").values()
    keys = {function["Properties"]["Code"]["S3Key"] for function in functions}
    bundle = synthesis.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    result = _run(bundle, runtime_provided, WORKERS_SCRIPT)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}, result
