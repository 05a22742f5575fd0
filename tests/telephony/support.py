"""Helpers of the telephony tests."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree
from typing import Any

from callingbox.core.dialing import DialJob

_callees = itertools.count(2000)


def callee() -> str:
    """A destination number no other test dials."""
    return f"+1415556{next(_callees):04d}"


def new_call(api: Any, agent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A queued outbound call to a fresh number."""
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": callee(), **extra})
    assert response.status_code == 200, response.text
    return response.json()


def dialed_call(api: Any, telephony: Any, workspace_id: str, agent: dict[str, Any],
                **extra: Any) -> tuple[dict[str, Any], str]:
    """A call the dialer has handed to the (fake) carrier: its document and carrier sid."""
    call = new_call(api, agent, **extra)
    result = telephony.dialer().dial(DialJob(workspace_id, call["id"]))
    assert result.carrier_sid, result
    return api.get(f"/v1/calls/{call['id']}").json(), result.carrier_sid


def status_path(workspace_id: str, call_id: str, hook: str = "status") -> str:
    return f"/twilio/calls/{workspace_id}/{call_id}/{hook}"


def twiml(text: str) -> ElementTree.Element:
    """The parsed TwiML document (its root ``<Response>``)."""
    root = ElementTree.fromstring(text)
    assert root.tag == "Response", text
    return root
