"""The TwiML documents, parsed back as XML the way Twilio reads them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callingbox.core.carrier import twiml


def parse(document: str) -> ET.Element:
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(document.split("?>", 1)[1])
    assert root.tag == "Response"
    return root


def test_connect_stream_carries_parameters_not_in_the_url() -> None:
    root = parse(twiml.connect_stream("wss://gw.example.com/stream", {"token": "a.b&c<d", "call_id": "call_1"}))
    [connect] = list(root)
    assert connect.tag == "Connect" and connect.attrib == {}
    [stream] = list(connect)
    assert stream.tag == "Stream" and stream.attrib == {"url": "wss://gw.example.com/stream"}
    assert [(p.tag, p.attrib) for p in stream] == [
        ("Parameter", {"name": "token", "value": "a.b&c<d"}),
        ("Parameter", {"name": "call_id", "value": "call_1"}),
    ]


def test_connect_stream_with_an_action_continues_the_call() -> None:
    root = parse(twiml.connect_stream("wss://gw/s", {}, action_url="https://api.example.com/twilio/after?call_id=c&x=1"))
    connect = root.find("Connect")
    assert connect is not None
    assert connect.attrib == {"action": "https://api.example.com/twilio/after?call_id=c&x=1", "method": "POST"}
    assert list(connect.find("Stream") or []) == []


@pytest.mark.parametrize("reason", ["rejected", "busy"])
def test_reject(reason: str) -> None:
    root = parse(twiml.reject(reason))  # type: ignore[arg-type]
    assert [(verb.tag, verb.attrib) for verb in root] == [("Reject", {"reason": reason})]


def test_reject_refuses_reasons_twilio_does_not_know() -> None:
    with pytest.raises(ValueError):
        twiml.reject("nope")  # type: ignore[arg-type]


def test_hangup() -> None:
    assert [verb.tag for verb in parse(twiml.hangup())] == ["Hangup"]


def test_dial_a_transfer() -> None:
    root = parse(twiml.dial("+14155550100", action_url="https://api.example.com/twilio/dial?call_id=c",
                            caller_id="+14155550101", timeout_s=20))
    [dial] = list(root)
    assert dial.tag == "Dial" and dial.findtext("Number") == "+14155550100"
    assert dial.attrib == {"action": "https://api.example.com/twilio/dial?call_id=c", "method": "POST",
                           "callerId": "+14155550101", "timeout": "20"}
    without_caller_id = parse(twiml.dial("+14155550100", action_url="https://a/b")).find("Dial")
    assert without_caller_id is not None and "callerId" not in without_caller_id.attrib
