"""``callingbox dev --forward-webhooks URL``: the local stack's worker thread delivers every event of
the dev workspace to the URL, signed, and one line per delivery is printed."""

from __future__ import annotations

import io
import time
from typing import Any, Callable

from callingbox import webhooks
from callingbox.cli.main import build_parser, main
from tests.webhooks.receiver import Receiver


def test_forwarding_delivers_signed_events_and_prints_each(local_stack: Any, workspace: Any, api: Any,
                                                          outbound_agent: dict,
                                                          receivers: Callable[..., Receiver]) -> None:
    from callingbox.core.settings import Settings
    from callingbox.local.webhook_forwarding import start_webhook_forwarding
    from callingbox.local.webhook_worker import start_webhook_worker

    settings = Settings.from_env(local_stack.environment)
    # Earlier tests' fan-out jobs (every call they made emitted events) would come first, some to
    # receivers long gone: start from an empty queue.
    import boto3

    boto3.client("sqs", endpoint_url=settings.aws_endpoint_url, region_name=settings.region).purge_queue(
        QueueUrl=settings.queue_urls["webhooks"])
    receiver = receivers()
    out = io.StringIO()
    # GIVEN forwarding to a local receiver, and the local worker polling the queue
    forwarding = start_webhook_forwarding(receiver.url, workspace_id=workspace.id, settings=settings, out=out)
    worker = start_webhook_worker(settings)
    try:
        assert forwarding.secret in out.getvalue() and receiver.url in out.getvalue()
        # WHEN a call is dispatched
        call = api.post("/v1/calls", json={"agent_id": outbound_agent["id"], "to": "+14155550123"}).json()
        # THEN the receiver gets call.queued, verifiable with the printed secret
        [request] = receiver.wait_for(1)
        event = webhooks.verify(request.body, request.headers, forwarding.secret)
        assert event.type == "call.queued" and event.data.object.id == call["id"]
        # AND a line says what was delivered and how it went
        deadline = time.monotonic() + 10
        while call["id"] not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        [line] = [line for line in out.getvalue().splitlines() if call["id"] in line]
        assert line.startswith("webhook call.queued") and "-> 200" in line and event.id in line
    finally:
        worker.stop()
        forwarding.stop()
        from workers import webhooks as handler_module  # type: ignore[import-not-found]

        handler_module.install(None)
    # stopping removes the endpoint it made
    assert api.get(f"/v1/webhook_endpoints/{forwarding.endpoint['id']}").status_code == 404


def test_the_dev_command_takes_the_forward_url_and_passes_it_on(monkeypatch: Any) -> None:
    import callingbox.local.stack as stack

    args = build_parser().parse_args(["dev", "--forward-webhooks", "http://localhost:3000/hooks"])
    assert args.forward_webhooks == "http://localhost:3000/hooks"
    seen: dict[str, Any] = {}
    monkeypatch.setattr(stack, "run_dev", lambda **kwargs: seen.update(kwargs) or 0)
    assert main(["dev", "--port", "9001", "--forward-webhooks", "http://localhost:3000/hooks"]) == 0
    assert seen == {"host": "127.0.0.1", "port": 9001, "forward_webhooks": "http://localhost:3000/hooks"}
    seen.clear()
    assert main(["dev"]) == 0 and "forward_webhooks" not in seen
