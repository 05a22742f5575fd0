"""Telephony fixtures: the session's local stack with telephony settings, a fake carrier in the
API's runtime, and queues of the test's own (so jobs of other tests never mix in)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Optional

import pytest

from callingbox.core.settings import Settings
from tests.telephony.fakes import FakeCarrier, RecordingQueues, TwilioWebhooks

AUTH_TOKEN = "twilio-test-auth-token-0123456789"
STREAM_SECRET = "stream-secret-of-the-telephony-tests"
GATEWAY_URL = "ws://127.0.0.1:9/media"


@dataclass
class Telephony:
    """Everything a telephony test drives."""

    settings: Settings
    carrier: FakeCarrier
    queues: RecordingQueues
    twilio: TwilioWebhooks
    sqs: Any

    def dialer(self, *, cps: float = 1000.0, max_concurrent: int = 100, clock: Callable[[], float] = time.time,
               max_pace_wait_s: float = 20.0, requeued: Optional[list] = None, pacer: Optional[str] = None) -> Any:
        """A dialer over the real store and queues, with its own pacing slot unless ``pacer`` names one."""
        from callingbox.core.dialing import Dialer, DialLimits, DynamoSlotStore, Pacer

        limits = DialLimits(cps=cps, max_concurrent_calls=max_concurrent, max_pace_wait_s=max_pace_wait_s)

        def requeue(job: Any, delay_s: int) -> None:
            if requeued is not None:
                requeued.append((job, delay_s))
            self.queues.send("dial", job.body(), delay_seconds=delay_s)

        return Dialer(settings=self.settings, carrier=self.carrier, requeue=requeue,
                      pacer=Pacer(DynamoSlotStore(), cps=cps, max_wait_s=max_pace_wait_s,
                                  name=pacer or f"test-{uuid.uuid4().hex}", clock=clock),
                      limits=limits, clock=clock)


@pytest.fixture
def telephony(local_stack: Any) -> Iterator[Telephony]:
    import boto3

    from callingbox.core.auth import KeyResolver
    from chalicelib import runtime  # type: ignore[import-not-found]

    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:12]
    own = {name: sqs.create_queue(QueueName=f"test-{name}-{suffix}")["QueueUrl"] for name in ("dial", "extraction")}
    base = Settings.from_env(local_stack.environment)
    settings = replace(base, public_api_url=local_stack.api_url, gateway_url=GATEWAY_URL,
                       stream_token_secret=STREAM_SECRET, twilio_auth_token=AUTH_TOKEN,
                       queue_urls={**base.queue_urls, **own})
    carrier = FakeCarrier()
    queues = RecordingQueues(settings)
    runtime.install(runtime.Runtime(settings=settings, queues=queues, keys=KeyResolver(settings.api_key_cache_seconds),
                                    carrier_factory=lambda _settings: carrier))
    twilio = TwilioWebhooks(local_stack.api_url, AUTH_TOKEN)
    try:
        yield Telephony(settings, carrier, queues, twilio, sqs)
    finally:
        twilio.close()
        runtime.install(runtime.Runtime.from_settings(base))
        for url in own.values():
            sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def outbound_agent(api: Any) -> dict[str, Any]:
    response = api.post("/v1/agents", json={
        "name": "Reminders", "type": "outbound", "instructions": "Confirm the appointment.",
        "returns": {"confirmed": "boolean"}, "number_ids": ["pn_abc123"], "primary_number_id": "pn_abc123",
        "max_duration_seconds": 300})
    assert response.status_code == 200, response.text
    return response.json()
