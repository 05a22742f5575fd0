"""TwiML documents read into plain verbs (``xml.etree``), for the local network to obey.

Understood verbs: ``<Connect><Stream>`` (with ``<Parameter>``s), ``<Dial>`` (a number as text or
``<Number>`` children), ``<Reject>``, ``<Hangup>``, ``<Pause>``, ``<Say>``, ``<Play>`` (audio or
``digits``) and ``<Redirect>``. Other verbs are kept as :class:`Unsupported` and skipped.
A document that is not XML or whose root is not ``<Response>`` raises :class:`TwimlError`
(Twilio's error 12100, "Document parse failure").
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = [
    "TwimlError",
    "Stream",
    "Connect",
    "Dial",
    "Reject",
    "Hangup",
    "Pause",
    "Say",
    "Play",
    "Redirect",
    "Unsupported",
    "Verb",
    "parse_twiml",
]


class TwimlError(ValueError):
    """The document cannot be run (Twilio error 12100)."""

    code = 12100


@dataclass(frozen=True)
class Stream:
    url: str
    name: Optional[str] = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Connect:
    stream: Optional[Stream]
    action: Optional[str] = None
    method: str = "POST"


@dataclass(frozen=True)
class Dial:
    number: str
    action: Optional[str] = None
    method: str = "POST"
    timeout_s: int = 30
    time_limit_s: int = 14400
    caller_id: Optional[str] = None


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Pause:
    length_s: float = 1.0


@dataclass(frozen=True)
class Say:
    text: str
    loop: int = 1


@dataclass(frozen=True)
class Play:
    url: Optional[str] = None
    digits: Optional[str] = None


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Unsupported:
    name: str


Verb = Union[Connect, Dial, Reject, Hangup, Pause, Say, Play, Redirect, Unsupported]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # tolerate a namespace


def _number(value: Optional[str], default: float, what: str) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise TwimlError(f"{what} must be a number, not {value!r}") from None


def _method(element: ElementTree.Element) -> str:
    method = (element.get("method") or "POST").upper()
    if method not in ("GET", "POST"):
        raise TwimlError(f"method must be GET or POST, not {method!r}")
    return method


def _stream(element: ElementTree.Element) -> Stream:
    url = element.get("url")
    if not url:
        raise TwimlError("<Stream> needs a url")
    parameters = {}
    for child in element:
        if _local(child.tag) == "Parameter":
            name = child.get("name")
            if name:
                parameters[name] = child.get("value", "")
    return Stream(url=url, name=element.get("name"), parameters=parameters)


def _verb(element: ElementTree.Element) -> Verb:
    name = _local(element.tag)
    if name == "Connect":
        streams = [child for child in element if _local(child.tag) == "Stream"]
        return Connect(stream=_stream(streams[0]) if streams else None, action=element.get("action") or None,
                       method=_method(element))
    if name == "Dial":
        numbers = [(child.text or "").strip() for child in element if _local(child.tag) == "Number"]
        number = numbers[0] if numbers else (element.text or "").strip()
        if not number:
            raise TwimlError("<Dial> needs a number")
        return Dial(number=number, action=element.get("action") or None, method=_method(element),
                    timeout_s=int(_number(element.get("timeout"), 30, "Dial timeout")),
                    time_limit_s=int(_number(element.get("timeLimit"), 14400, "Dial timeLimit")),
                    caller_id=element.get("callerId"))
    if name == "Reject":
        return Reject(reason=element.get("reason") or "rejected")
    if name == "Hangup":
        return Hangup()
    if name == "Pause":
        return Pause(length_s=_number(element.get("length"), 1.0, "Pause length"))
    if name == "Say":
        return Say(text=(element.text or "").strip(), loop=max(1, int(_number(element.get("loop"), 1, "Say loop"))))
    if name == "Play":
        return Play(url=(element.text or "").strip() or None, digits=element.get("digits") or None)
    if name == "Redirect":
        url = (element.text or "").strip()
        if not url:
            raise TwimlError("<Redirect> needs a URL")
        return Redirect(url=url, method=_method(element))
    return Unsupported(name)


def parse_twiml(document: Union[str, bytes]) -> list[Verb]:
    """The verbs of a ``<Response>`` document, in order. Raises :class:`TwimlError`."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as error:
        raise TwimlError(f"not well-formed XML: {error}") from None
    if _local(root.tag) != "Response":
        raise TwimlError(f"the root element must be <Response>, not <{_local(root.tag)}>")
    return [_verb(child) for child in root]
