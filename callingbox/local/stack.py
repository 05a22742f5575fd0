"""`make dev`: the whole platform on one machine, with no AWS or Twilio account.

Starts the embedded AWS emulation, provisions it from the shared definitions, serves the Chalice
API on loopback, creates a dev workspace with the docs' sample numbers, writes
``.callingbox/local.env`` and runs until Ctrl-C.
"""

from __future__ import annotations

import gc
import os
import secrets
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..core import resources
from ..core.telephony_urls import NUMBER_STATUS_PATH, VOICE_PATH
from .aws import EmulatedAws, start_emulated_aws
from .gateway import LocalGateway, Sweeper, start_local_gateway, start_sweeper

__all__ = ["LocalStack", "start_local_stack", "start_workers", "run_dev", "ENV_FILE", "project_root"]

ENV_FILE = Path(".callingbox") / "local.env"
LISTEN_BACKLOG = 256
# As many dialer pollers as a deployment runs dialer instances.
DIALER_WORKERS = resources.DIAL_CONCURRENCY


def project_root() -> Path:
    """The checkout that holds ``functions/`` beside this package."""
    return Path(__file__).resolve().parents[2]


def load_api_app() -> Any:
    """The Chalice app object from ``functions/app.py``."""
    functions = str(project_root() / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    from app import app  # type: ignore[import-not-found]

    return app


@dataclass
class LocalStack:
    """A running local platform."""

    aws: EmulatedAws
    api_url: str
    environment: dict[str, str]
    _server: Any
    _thread: threading.Thread
    gateway: Optional[LocalGateway] = None
    sweeper: Optional[Sweeper] = None
    carrier: Optional[Any] = None
    workers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the workers, the carrier, the sweeper, the gateway (draining live calls briefly), the API
        and the AWS emulation."""
        for worker in self.workers:
            worker.stop()
        if self.carrier is not None:
            self.carrier.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.gateway is not None:
            self.gateway.stop()
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.aws.stop()


def start_local_stack(host: str = "127.0.0.1", port: int = 8000, *, extra_env: Optional[dict[str, str]] = None,
                      voice: bool = True, answer_delay_s: float = 0.3, dialer_workers: int = DIALER_WORKERS,
                      workers: bool = True) -> LocalStack:
    """Start the whole platform in threads of this process and return once every part answers.

    The embedded AWS emulation, the voice gateway and the sweeper, the local Twilio stand-in (the
    real Twilio SDK is pointed at it), the API with the carrier webhooks, and the workers polling
    the emulated queues (dialer, webhook delivery). ``voice=False`` leaves out the gateway, the
    sweeper, the carrier and the workers (the API alone). ``answer_delay_s``: how long local callees
    ring before they answer. ``dialer_workers``: parallel dialer pollers (as Lambda scales out;
    they share the account's calls-per-second limit through the store). ``workers=False`` leaves
    the queues to the caller (tests that drive the workers themselves): see :func:`start_workers`.
    """
    from chalice.config import Config
    from chalice.local import create_local_server

    from ..core.settings import Settings

    aws = start_emulated_aws(host)
    environment = {
        **aws.environment(),
        "CALLINGBOX_ALLOW_INSECURE_URLS": "true",
        # A fresh key per run: tokens from an earlier run are worthless.
        "CALLINGBOX_STREAM_TOKEN_SECRET": secrets.token_hex(32),
        **(extra_env or {}),
    }
    os.environ.update(environment)
    gateway = sweeper = carrier = None
    if voice:
        from .carrier import start_local_carrier

        gateway = start_local_gateway(environment, host)
        environment["CALLINGBOX_GATEWAY_URL"] = gateway.url
        sweeper = start_sweeper(Settings.from_env(environment))
        carrier = start_local_carrier(host, 0, account_sid="AC" + secrets.token_hex(16),
                                      auth_token=secrets.token_hex(16), answer_delay_s=answer_delay_s)
        environment.update(carrier.environment)
    app = load_api_app()
    from chalicelib import runtime  # type: ignore[import-not-found]

    config = Config.create(chalice_stage="dev", app_name=app.app_name, chalice_app=app)
    server = create_local_server(app, config, host, port)
    api_url = f"http://{host}:{server.server.server_address[1]}"
    environment.setdefault("CALLINGBOX_PUBLIC_API_URL", api_url)
    environment.setdefault("CALLINGBOX_VOICE_URL", environment["CALLINGBOX_PUBLIC_API_URL"] + VOICE_PATH)
    os.environ.update(environment)
    settings = Settings.from_env(environment)
    runtime.install(runtime.Runtime.from_settings(settings))
    # http.server listens with a backlog of 5: a burst of concurrent clients would see resets.
    server.server.socket.listen(LISTEN_BACKLOG)
    server.server.daemon_threads = True
    thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
    thread.start()
    running: list[Any] = []
    if carrier is not None:
        carrier.route_other_numbers(voice_url=environment["CALLINGBOX_VOICE_URL"],
                                    status_callback=environment["CALLINGBOX_PUBLIC_API_URL"] + NUMBER_STATUS_PATH)
        if workers:
            running = start_workers(settings, dialer_workers)
    # Everything loaded so far (the app, the SDKs' service models, the emulation) lives as long as
    # the stack: out of the collector's way, a full collection no longer walks it and pauses every
    # thread of the stack (calls in flight included) for a fraction of a second.
    gc.freeze()
    return LocalStack(aws, api_url, environment, server, thread, gateway, sweeper, carrier, running)


def start_workers(settings: Any, dialer_workers: int = DIALER_WORKERS) -> list[Any]:
    """The Lambda workers, each fed by a poller of its emulated queue (as the event source mapping does)."""
    from .extraction_worker import start_extraction_worker
    from .webhook_worker import start_webhook_worker
    from .workers import load_handler, start_queue_worker

    dialer = load_handler("dialer")
    return [
        *(start_queue_worker(settings.queue_urls["dial"], dialer, endpoint_url=settings.aws_endpoint_url,
                             region=settings.region, name=f"dialer-{n}", batch_size=resources.DIAL_BATCH_SIZE)
          for n in range(dialer_workers)),
        start_extraction_worker(dict(os.environ)),  # the stack put its environment there
        start_webhook_worker(settings),
    ]


def _write_env(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    path.chmod(0o600)


def run_dev(host: str = "127.0.0.1", port: int = 8000, *, forward_webhooks: Optional[str] = None) -> int:
    """Run the local platform until interrupted; returns the process exit code.

    ``forward_webhooks``: a URL that receives every event of the dev workspace, signed (each
    delivery is printed).
    """
    from ..core.settings import Settings
    from ..core.store.workspaces import create_workspace
    from .demo_numbers import seed_demo_numbers

    try:
        stack = start_local_stack(host, port)
    except OSError as error:
        print(f"callingbox dev: cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return 1
    workspace, api_key = create_workspace("dev")
    numbers = seed_demo_numbers(str(workspace["id"]))
    forwarding = None
    if forward_webhooks:
        from ..core.errors import ApiError
        from .webhook_forwarding import start_webhook_forwarding

        try:
            forwarding = start_webhook_forwarding(forward_webhooks, workspace_id=str(workspace["id"]),
                                                  settings=Settings.from_env(stack.environment))
        except ApiError as error:
            print(f"callingbox dev: --forward-webhooks: {error}", file=sys.stderr)
            stack.stop()
            return 2
    values = {
        "CALLINGBOX_BASE_URL": stack.api_url,
        "CALLINGBOX_API_KEY": api_key,
        **{name: value for name, value in stack.environment.items()
           if name.startswith(("CALLINGBOX_", "AWS_", "TWILIO_"))},
    }
    _write_env(ENV_FILE, values)
    listed = "\n".join(f"    {n['id']:<10} {n['number']}" for n in numbers)
    inbound = next((n["number"] for n in numbers if n["id"] == "pn_xyz789"), "+14155550102")
    forwarded = f"\nEvery event of the dev workspace is POSTed, signed, to {forward_webhooks}.\n" if forwarding else ""
    print(
        f"""
CallingBox is running locally: API {stack.api_url}, voice gateway {stack.environment.get("CALLINGBOX_GATEWAY_URL")},
local Twilio stand-in {stack.environment.get("CALLINGBOX_TWILIO_API_URL")}, embedded AWS {stack.aws.endpoint_url}.

  CALLINGBOX_BASE_URL={stack.api_url}
  CALLINGBOX_API_KEY={api_key}
  CALLINGBOX_VOICE_URL={stack.environment.get("CALLINGBOX_VOICE_URL")}   (inbound voice webhook, Twilio-signed)
  TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN: the local carrier's (all in {ENV_FILE})

  `set -a; . {ENV_FILE}; set +a` loads them into a shell.

Sample numbers in the dev workspace:
{listed}

Place a first call (the local phone network answers +15550100001 as a person who says "yes";
+15550100002 is voicemail, 0003 busy, 0004 no answer, 0005 fails):
  set -a; . {ENV_FILE}; set +a
  python -c 'import time; from callingbox import Callingbox; c = Callingbox(); \\
a = c.agents.create(name="Reminders", type="outbound", instructions="Confirm the appointment.", \\
first_message="Hi, this is Bright Smiles Dental.", returns={{"confirmed": "boolean"}}, \\
number_ids=["pn_abc123"], primary_number_id="pn_abc123"); call = c.calls.create(agent_id=a.id, to="+15550100001"); \\
time.sleep(25); call = c.calls.retrieve(call.id); print(call.status, call.end_reason, call.result)'
  callingbox calls list

Ring an inbound agent's number (create an inbound agent with number_ids=["pn_xyz789"] first):
  callingbox phone ring {inbound} --from +14155550999 --say "Hi, I would like to book a cleaning."
  callingbox phone ring {inbound} --from +14155550999 --interactive     (type the caller's lines)
{forwarded}
Ctrl-C stops everything (state lives in memory).
""",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    if forwarding is not None:
        forwarding.stop()
    stack.stop()
    print("callingbox dev: stopped", flush=True)
    return 0
