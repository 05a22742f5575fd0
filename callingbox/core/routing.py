"""Who answers an inbound call: the number's filter, then its inbound mode (seeds 001, 004).

Pure functions over the number's document and its rules; the voice webhook
(:mod:`callingbox.core.telephony`) reads them from the store and carries the decision out::

    number not active ─────────────────────────────────────────────► reject   number_inactive
    filter  blacklist: an ACTIVE block rule for the caller ────────► reject   blocked
            whitelist: no ACTIVE allow rule for the caller ────────► reject   not_allowed
    mode    reject ────────────────────────────────────────────────► reject   mode_reject
            agent   (default): inbound agent attached, not archived ► answer   agent
                               otherwise ─────────────────────────► reject   no_agent
            webhook: ask incoming_call_webhook_url ─────────────────► ask_webhook
                     {"action": "answer"} + an agent ─────────────► answer   webhook_answer
                     {"action": "reject"} ────────────────────────► reject   webhook_reject
                     {"action": "ignore"} ────────────────────────► ignore   webhook_ignore
                     timeout, error, anything else: the safe fallback, which is what ``agent``
                     mode would do: answer if an agent is attached ► answer   webhook_fallback
                                    else ─────────────────────────► reject   webhook_fallback

Only a rule whose ``exact_number`` is the caller's number and whose ``status`` is ``active``
counts; paused and deleted rules are ignored. ``answer`` with no agent is always a reject: nobody
could talk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping

__all__ = ["InboundAction", "InboundDecision", "caller_passes_filter", "route_inbound", "resolve_webhook_reply",
           "WEBHOOK_ACTIONS"]

WEBHOOK_ACTIONS = frozenset({"answer", "reject", "ignore"})


class InboundAction(str, Enum):
    """What happens to the call."""

    ANSWER = "answer"            # the inbound agent answers: a call record and <Connect><Stream>
    REJECT = "reject"            # refused unanswered (<Reject>): nothing billed, no call record
    IGNORE = "ignore"            # not answered, not refused on purpose (see telephony: busy tone)
    ASK_WEBHOOK = "ask_webhook"  # ask the number's incoming_call_webhook_url first


@dataclass(frozen=True)
class InboundDecision:
    """The action and why (for logs): see the module docstring for every reason."""

    action: InboundAction
    reason: str


def _active_rule(rules: Iterable[Mapping[str, Any]], caller: str, action: str) -> bool:
    return any(rule.get("status") == "active" and rule.get("action") == action and rule.get("exact_number") == caller
               for rule in rules)


def caller_passes_filter(filter_mode: str, rules: Iterable[Mapping[str, Any]], caller: str) -> bool:
    """Blacklist: delivered unless an active block rule matches; whitelist: only if an active allow rule does."""
    if filter_mode == "whitelist":
        return _active_rule(rules, caller, "allow")
    return not _active_rule(rules, caller, "block")


def route_inbound(number: Mapping[str, Any], rules: Iterable[Mapping[str, Any]], caller: str, *,
                  agent_available: bool) -> InboundDecision:
    """The decision for a call from ``caller`` to ``number`` (its document), given its rules.

    ``agent_available``: the number has an inbound agent that is not archived.
    """
    if number.get("status", "active") != "active":
        return InboundDecision(InboundAction.REJECT, "number_inactive")
    filter_mode = number.get("filter_mode") or "blacklist"
    if not caller_passes_filter(filter_mode, list(rules), caller):
        return InboundDecision(InboundAction.REJECT, "not_allowed" if filter_mode == "whitelist" else "blocked")
    mode = number.get("inbound_mode") or "agent"
    if mode == "reject":
        return InboundDecision(InboundAction.REJECT, "mode_reject")
    if mode == "webhook" and number.get("incoming_call_webhook_url"):
        return InboundDecision(InboundAction.ASK_WEBHOOK, "webhook")
    # "agent", and a webhook mode without a URL (the API refuses to save one) behaving as its fallback.
    if agent_available:
        return InboundDecision(InboundAction.ANSWER, "agent")
    return InboundDecision(InboundAction.REJECT, "no_agent")


def resolve_webhook_reply(reply: Any, *, agent_available: bool) -> InboundDecision:
    """The decision from the customer's webhook reply (parsed JSON, or None when it failed or timed out)."""
    action = reply.get("action") if isinstance(reply, dict) else None
    if action == "reject":
        return InboundDecision(InboundAction.REJECT, "webhook_reject")
    if action == "ignore":
        return InboundDecision(InboundAction.IGNORE, "webhook_ignore")
    if action == "answer":
        if agent_available:
            return InboundDecision(InboundAction.ANSWER, "webhook_answer")
        return InboundDecision(InboundAction.REJECT, "no_agent")
    if agent_available:
        return InboundDecision(InboundAction.ANSWER, "webhook_fallback")
    return InboundDecision(InboundAction.REJECT, "webhook_fallback")
