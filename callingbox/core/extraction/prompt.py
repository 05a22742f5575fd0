"""What the model adapters send: one forced tool whose input is ``{"result", "evidence"}``, and the
prompt around the transcript. Shared by :mod:`.bedrock` and :mod:`.openai_compat`.

The tool's input schema nests the ``returns`` schema unchanged under ``result`` and puts the quotes
beside it under ``evidence`` (field -> exact quote or null)::

    {"type": "object", "required": ["result", "evidence"], "additionalProperties": false,
     "properties": {"result": <returns schema>,
                    "evidence": {"type": "object", "properties": {<field>: {"type": ["string", "null"]}}}}}

so ``result`` alone is validated, strictly and exactly as declared, and a customer field named
``evidence`` cannot collide with ours. ``$defs`` of a full ``returns`` schema are hoisted to the
tool schema's root, where its ``#/$defs/...`` references still resolve.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping, Optional, Sequence

from .base import CallFacts, RawExtraction
from .exceptions import ExtractorOutputError

__all__ = ["TOOL_NAME", "TOOL_DESCRIPTION", "SYSTEM_PROMPT", "tool_input_schema", "user_prompt", "read_tool_input"]

TOOL_NAME = "record_call_result"
TOOL_DESCRIPTION = "Record the structured result of the phone call and, per field, the transcript quote it came from."
MAX_INSTRUCTIONS_CHARS = 4_000  # the agent's task, as context; long prompts are cut, the transcript never
SYSTEM_PROMPT = (
    f"You read the transcript of a phone call between an AI agent and a caller, and record the call's "
    f"structured result by calling the {TOOL_NAME} tool exactly once.\n"
    "Rules:\n"
    "- Use only what was said in the transcript. Never guess: a field the call did not settle is null.\n"
    "- Types must match the schema exactly: booleans are true or false (never \"yes\"), integers are whole "
    "numbers without quotes, dates are YYYY-MM-DD, date-times are RFC 3339 with a UTC offset "
    "(2026-03-04T15:00:00-05:00), and a field with listed values takes exactly one of them.\n"
    "- Resolve relative dates (\"tomorrow\", \"next Friday\") from the date of the call.\n"
    "- In evidence, give for every non-null field the exact words of the transcript the value came from, "
    "copied verbatim (usually the caller's reply); null for null fields."
)
_HOISTED = ("$defs", "definitions")
_DROPPED = ("$schema", "$id")


def tool_input_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The forced tool's input schema: ``result`` (the returns schema) beside ``evidence``."""
    result = copy.deepcopy(dict(schema))
    hoisted = {key: result.pop(key) for key in _HOISTED if key in result}
    for key in _DROPPED:
        result.pop(key, None)
    fields = list(result.get("properties") or {})
    evidence = {
        "type": "object",
        "description": "For each field, the exact transcript words its value came from; null when the field is null.",
        "properties": {name: {"type": ["string", "null"]} for name in fields},
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"result": result, "evidence": evidence},
        "required": ["result", "evidence"],
        "additionalProperties": False,
        **hoisted,
    }


def _field_lines(schema: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, spec in (schema.get("properties") or {}).items():
        lines.append(f"- {name}: {json.dumps(spec, sort_keys=True)}")
    return lines


def user_prompt(schema: Mapping[str, Any], transcript: Sequence[Mapping[str, Any]], *, facts: CallFacts,
                feedback: Optional[str]) -> str:
    """The user message: the call's date and task, the transcript, the fields, and any feedback."""
    parts = []
    if facts.call_date is not None:
        parts.append(f"The call took place on {facts.call_date.isoformat()} ({facts.call_date:%A}).")
    if facts.instructions:
        parts.append("The agent's task was:\n" + facts.instructions[:MAX_INSTRUCTIONS_CHARS])
    lines = [f"{segment.get('party', 'unknown')}: {segment.get('text', '')}" for segment in transcript]
    parts.append("Transcript:\n" + ("\n".join(lines) if lines else "(nothing was said)"))
    parts.append("Fields to fill (JSON Schema of each):\n" + "\n".join(_field_lines(schema)))
    if feedback:
        parts.append(f"Your previous call of {TOOL_NAME} was refused:\n{feedback}\n"
                     f"Call {TOOL_NAME} again with every problem fixed.")
    return "\n\n".join(parts)


def read_tool_input(tool_input: Any) -> RawExtraction:
    """The tool input as a :class:`RawExtraction`; anything but ``{"result": {...}}`` is an output error.

    ``result`` given as a JSON string holding an object is accepted (some models stringify nested
    objects); the values inside are never coerced.
    """
    if isinstance(tool_input, str):
        tool_input = _loads(tool_input, "the tool input")
    if not isinstance(tool_input, dict):
        raise ExtractorOutputError(f"the {TOOL_NAME} input is not an object")
    result = tool_input.get("result")
    if isinstance(result, str):
        result = _loads(result, "result")
    if not isinstance(result, dict):
        raise ExtractorOutputError(f"the {TOOL_NAME} input has no result object")
    evidence = tool_input.get("evidence")
    return RawExtraction(values=result, evidence=evidence if isinstance(evidence, dict) else {}, raw=tool_input)


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ExtractorOutputError(f"{what} is not valid JSON") from None
