"""The inbound voice webhook over real HTTP: filter rules, inbound modes (incl. the customer's
webhook on a real loopback server), the call record, and the number-level status callback."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional

import pytest

from callingbox.core.stream_tokens import verify_stream_token
from tests.telephony.conftest import GATEWAY_URL, STREAM_SECRET
from tests.telephony.support import twiml

_callers = itertools.count(3000)


def _caller() -> str:
    return f"+1415557{next(_callers):04d}"


def ring(telephony: Any, to: str, caller: str, *, sid: Optional[str] = None) -> Any:
    """The carrier's request to the number's voice URL; returns the parsed TwiML."""
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": sid or "CA" + caller[1:].ljust(32, "0"), "From": caller,
              "To": to, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    response = telephony.twilio.post("/twilio/voice", params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    return twiml(response.text)


def rejected(document: Any, reason: str = "rejected") -> bool:
    return [child.tag for child in document] == ["Reject"] and document[0].get("reason") == reason


@pytest.fixture
def inbound_agent(api: Any) -> dict[str, Any]:
    response = api.post("/v1/agents", json={"name": "Front desk", "type": "inbound", "number_ids": ["pn_xyz789"],
                                            "instructions": "Answer questions about opening hours."})
    assert response.status_code == 200, response.text
    return response.json()


def _calls(api: Any) -> list[dict[str, Any]]:
    return api.get("/v1/calls?direction=inbound").json()["data"]


def test_an_attached_agent_answers_with_a_call_record_and_the_stream(api: Any, workspace: Any, telephony: Any,
                                                                     inbound_agent: dict) -> None:
    caller = _caller()
    # WHEN someone calls the agent's number
    document = ring(telephony, workspace.numbers["pn_xyz789"], caller, sid="CA" + "1" * 32)
    # THEN the call is connected to the gateway with a stream token for a new inbound call record
    connect = document.find("Connect")
    assert connect is not None
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == GATEWAY_URL
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    claims = verify_stream_token(STREAM_SECRET.encode(), parameters["token"])
    assert claims.workspace_id == workspace.id and claims.call_id == parameters["call_id"]
    assert connect.get("action", "").endswith(f"/twilio/calls/{workspace.id}/{claims.call_id}/after_stream")
    [call] = _calls(api)
    assert call["id"] == claims.call_id
    assert (call["direction"], call["status"], call["agent_id"]) == ("inbound", "in_progress", inbound_agent["id"])
    assert (call["from_number"], call["to_number"]) == (caller, workspace.numbers["pn_xyz789"])
    assert call["carrier_sid"] == "CA" + "1" * 32 and call["answered_at"] is not None
    assert call["agent_snapshot"]["instructions"] == "Answer questions about opening hours."
    assert call["context"] is None and call["metadata"] == {}
    # AND a retry of the same webhook (same CallSid) answers with the same call, not a second one
    again = ring(telephony, workspace.numbers["pn_xyz789"], caller, sid="CA" + "1" * 32)
    assert again.find("Connect/Stream/Parameter[@name='call_id']").get("value") == call["id"]
    assert len(_calls(api)) == 1
    # AND the number's status callback closes the call when the caller hangs up, queueing its extraction
    response = telephony.twilio.post("/twilio/status", {"CallSid": "CA" + "1" * 32, "CallStatus": "completed",
                                                        "CallDuration": "31", "From": caller,
                                                        "To": workspace.numbers["pn_xyz789"]})
    assert response.status_code == 200
    done = api.get(f"/v1/calls/{call['id']}").json()
    assert (done["status"], done["end_reason"], done["duration_seconds"]) == ("completed", "caller_hangup", 31)
    assert len(telephony.queues.jobs("extraction", call["id"])) == 1


def test_no_agent_attached_is_rejected_without_a_record(api: Any, workspace: Any, telephony: Any) -> None:
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()))
    assert _calls(api) == []


def test_an_archived_agent_answers_nothing(api: Any, workspace: Any, telephony: Any, inbound_agent: dict) -> None:
    api.post(f"/v1/agents/{inbound_agent['id']}/archive")
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()))
    assert _calls(api) == []


def test_a_number_nobody_holds_is_rejected(telephony: Any) -> None:
    assert rejected(ring(telephony, "+14155559999", _caller()))


def test_blacklist_blocks_only_active_block_rules(api: Any, workspace: Any, telephony: Any,
                                                  inbound_agent: dict) -> None:
    blocked, paused, stranger = _caller(), _caller(), _caller()
    api.post("/v1/numbers/pn_xyz789/rules", json={"exact_number": blocked, "action": "block"})
    api.post("/v1/numbers/pn_xyz789/rules", json={"exact_number": paused, "action": "block", "status": "paused"})
    number = workspace.numbers["pn_xyz789"]
    assert rejected(ring(telephony, number, blocked))
    assert ring(telephony, number, paused).find("Connect") is not None
    assert ring(telephony, number, stranger).find("Connect") is not None
    assert sorted(c["from_number"] for c in _calls(api)) == sorted([paused, stranger])


def test_whitelist_delivers_only_active_allow_rules(api: Any, workspace: Any, telephony: Any,
                                                    inbound_agent: dict) -> None:
    friend, stranger = _caller(), _caller()
    assert api.patch("/v1/numbers/pn_xyz789", json={"filter_mode": "whitelist"}).status_code == 200
    api.post("/v1/numbers/pn_xyz789/rules", json={"exact_number": friend, "action": "allow"})
    number = workspace.numbers["pn_xyz789"]
    assert ring(telephony, number, friend).find("Connect") is not None
    assert rejected(ring(telephony, number, stranger))
    assert [c["from_number"] for c in _calls(api)] == [friend]


def test_reject_mode_rejects(api: Any, workspace: Any, telephony: Any, inbound_agent: dict) -> None:
    api.patch("/v1/numbers/pn_xyz789", json={"inbound_mode": "reject"})
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()))


class _Hook:
    """The customer's incoming-call webhook: a real HTTP server on loopback."""

    def __init__(self) -> None:
        hook = self
        self.reply: Any = {"action": "answer"}
        self.hang = threading.Event()  # set: the next requests never answer in time
        self.release = threading.Event()
        self.requests: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                hook.requests.append(json.loads(self.rfile.read(length)))
                if hook.hang.is_set():
                    hook.release.wait(10)
                body = json.dumps(hook.reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the platform gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/incoming"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def hook(api: Any) -> Iterator[_Hook]:
    server = _Hook()
    response = api.patch("/v1/numbers/pn_xyz789", json={"inbound_mode": "webhook",
                                                        "incoming_call_webhook_url": server.url})
    assert response.status_code == 200, response.text
    yield server
    server.close()


def test_webhook_mode_answer(api: Any, workspace: Any, telephony: Any, inbound_agent: dict, hook: _Hook) -> None:
    caller = _caller()
    document = ring(telephony, workspace.numbers["pn_xyz789"], caller)
    assert document.find("Connect") is not None
    assert hook.requests == [{"call": {"from": caller, "to": workspace.numbers["pn_xyz789"], "number_id": "pn_xyz789"}}]
    assert len(_calls(api)) == 1


def test_webhook_mode_reject_and_ignore(api: Any, workspace: Any, telephony: Any, inbound_agent: dict,
                                        hook: _Hook) -> None:
    hook.reply = {"action": "reject"}
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()))
    hook.reply = {"action": "ignore"}
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()), "busy")
    assert _calls(api) == []


def test_webhook_mode_answer_without_an_agent_is_rejected(api: Any, workspace: Any, telephony: Any,
                                                          hook: _Hook) -> None:
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()))
    assert len(hook.requests) == 1


def test_webhook_mode_timeout_falls_back_to_the_agent(api: Any, workspace: Any, telephony: Any,
                                                      inbound_agent: dict, hook: _Hook) -> None:
    # GIVEN a webhook that does not answer within 3 s
    hook.hang.set()
    hook.reply = {"action": "reject"}  # too late to count
    # THEN the call is answered by the attached agent (the safe fallback)
    assert ring(telephony, workspace.numbers["pn_xyz789"], _caller()).find("Connect") is not None
    assert len(_calls(api)) == 1


def test_webhook_mode_unreadable_reply_without_agent_rejects(api: Any, workspace: Any, telephony: Any,
                                                             hook: _Hook) -> None:
    hook.reply = ["not", "an", "object"]
    assert rejected(ring(telephony, workspace.numbers["pn_xyz789"], _caller()))


def test_an_unsigned_voice_webhook_is_refused_without_a_record(api: Any, workspace: Any, telephony: Any,
                                                               inbound_agent: dict) -> None:
    response = telephony.twilio.post("/twilio/voice", {"CallSid": "CA" + "2" * 32, "From": _caller(),
                                                       "To": workspace.numbers["pn_xyz789"]}, signature=None)
    assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_signature"
    assert _calls(api) == []
