"""Fixtures: one local carrier, one application and one gateway stand-in per test module."""

from __future__ import annotations

from typing import Iterator

import pytest
from twilio.rest import Client

from callingbox.local.carrier import FAST_TIMING, LocalCarrier, start_local_carrier
from tests.local_carrier.harness import ACCOUNT_SID, AUTH_TOKEN, GatewayStandIn, LocalTwilioHttpClient, WebhookReceiver


@pytest.fixture(scope="module")
def carrier() -> Iterator[LocalCarrier]:
    carrier = start_local_carrier(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, answer_delay_s=0.05,
                                  timing=FAST_TIMING)
    yield carrier
    carrier.stop()


@pytest.fixture(scope="module")
def twilio(carrier: LocalCarrier) -> Client:
    """The real Twilio SDK, pointed at the carrier."""
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LocalTwilioHttpClient(carrier.api_url))


@pytest.fixture(scope="module")
def app() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(AUTH_TOKEN)
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayStandIn]:
    stand_in = GatewayStandIn()
    yield stand_in
    stand_in.stop()
