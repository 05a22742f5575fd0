"""The inbound routing rule as a pure function (seed 004): filter, then mode, then the webhook's reply."""

from __future__ import annotations

from typing import Any

import pytest

from callingbox.core.routing import InboundAction, caller_passes_filter, resolve_webhook_reply, route_inbound

CALLER = "+14155550100"


def number(**fields: Any) -> dict[str, Any]:
    return {"status": "active", "filter_mode": "blacklist", "inbound_mode": "agent",
            "incoming_call_webhook_url": None, **fields}


def rule(action: str, status: str = "active", exact: str = CALLER) -> dict[str, Any]:
    return {"exact_number": exact, "action": action, "status": status}


@pytest.mark.parametrize(("mode", "rules", "delivered"), [
    ("blacklist", [], True),
    ("blacklist", [rule("block")], False),
    ("blacklist", [rule("block", "paused")], True),
    ("blacklist", [rule("block", "deleted")], True),
    ("blacklist", [rule("block", exact="+14155550199")], True),
    ("blacklist", [rule("allow")], True),
    ("whitelist", [], False),
    ("whitelist", [rule("allow")], True),
    ("whitelist", [rule("allow", "paused")], False),
    ("whitelist", [rule("allow", exact="+14155550199")], False),
    ("whitelist", [rule("block")], False),
])
def test_filter(mode: str, rules: list, delivered: bool) -> None:
    assert caller_passes_filter(mode, rules, CALLER) is delivered


@pytest.mark.parametrize(("fields", "rules", "agent", "action", "reason"), [
    ({}, [], True, InboundAction.ANSWER, "agent"),
    ({}, [], False, InboundAction.REJECT, "no_agent"),
    ({"status": "released"}, [], True, InboundAction.REJECT, "number_inactive"),
    ({}, [rule("block")], True, InboundAction.REJECT, "blocked"),
    ({"filter_mode": "whitelist"}, [], True, InboundAction.REJECT, "not_allowed"),
    ({"filter_mode": "whitelist"}, [rule("allow")], True, InboundAction.ANSWER, "agent"),
    ({"inbound_mode": "reject"}, [], True, InboundAction.REJECT, "mode_reject"),
    ({"inbound_mode": "webhook", "incoming_call_webhook_url": "https://x.example/h"}, [], False,
     InboundAction.ASK_WEBHOOK, "webhook"),
    # the filter applies before the webhook is asked
    ({"inbound_mode": "webhook", "incoming_call_webhook_url": "https://x.example/h"}, [rule("block")], True,
     InboundAction.REJECT, "blocked"),
])
def test_route(fields: dict, rules: list, agent: bool, action: InboundAction, reason: str) -> None:
    decision = route_inbound(number(**fields), rules, CALLER, agent_available=agent)
    assert (decision.action, decision.reason) == (action, reason)


@pytest.mark.parametrize(("reply", "agent", "action", "reason"), [
    ({"action": "answer"}, True, InboundAction.ANSWER, "webhook_answer"),
    ({"action": "answer"}, False, InboundAction.REJECT, "no_agent"),
    ({"action": "reject"}, True, InboundAction.REJECT, "webhook_reject"),
    ({"action": "ignore"}, True, InboundAction.IGNORE, "webhook_ignore"),
    (None, True, InboundAction.ANSWER, "webhook_fallback"),          # timeout or error
    (None, False, InboundAction.REJECT, "webhook_fallback"),
    ({"action": "transfer"}, True, InboundAction.ANSWER, "webhook_fallback"),
    (["answer"], False, InboundAction.REJECT, "webhook_fallback"),
])
def test_webhook_reply(reply: Any, agent: bool, action: InboundAction, reason: str) -> None:
    decision = resolve_webhook_reply(reply, agent_available=agent)
    assert (decision.action, decision.reason) == (action, reason)
