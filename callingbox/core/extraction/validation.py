"""Strict checking of an extracted result against the ``returns`` schema, and of its evidence.

The result must match the declared types exactly: JSON Schema 2020-12 with format assertion, and
two rules tighter than the specification's defaults:

- ``integer`` means a JSON integer (``3``), not a float with no fraction (``3.0``); and, as always
  in JSON Schema, ``true`` is a boolean and never the string ``"true"`` or the number ``1``.
- ``date`` is a real calendar date ``YYYY-MM-DD`` (``2025-02-30`` fails) and ``date-time`` an RFC
  3339 timestamp with a UTC offset (``2026-03-04T15:00:00-05:00``); enums take a listed value.

Every problem is pinned to the field it concerns where possible, so that after the retry only
the fields that still fail are nulled (:func:`null_failed`) and the others are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Optional, Sequence

__all__ = [
    "Problem",
    "declared_fields",
    "select_declared",
    "check_result",
    "failed_fields",
    "null_failed",
    "describe_problems",
    "verified_evidence",
]

MAX_PROBLEMS_SHOWN = 20  # in the feedback and in extraction.error; more are counted, not listed
MAX_VALUE_CHARS = 80  # a wrong value is quoted in a problem up to this length
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class Problem:
    """One reason a result is refused; ``field`` is None when it concerns the result as a whole."""

    field: Optional[str]
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _is_date(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE.match(instance):
        return False
    try:
        dt.date.fromisoformat(instance)
    except ValueError:
        return False
    return True


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.match(instance):
        return False
    try:
        dt.datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def _validator_class() -> Any:
    # jsonschema is imported on first use: the API's cold start never needs it for this module.
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.validators import extend

    def is_integer(checker: Any, instance: object) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    return extend(Draft202012Validator, type_checker=type_checker), FormatChecker


def _format_checker() -> Any:
    _, format_checker_class = _validator_class()
    checker = format_checker_class()
    # Our own date checks (not the optional-dependency ones), so they always assert, and strictly.
    checker.checkers["date"] = (_is_date, ValueError)
    checker.checkers["date-time"] = (_is_date_time, ValueError)
    return checker


def declared_fields(schema: Mapping[str, Any]) -> list[str]:
    """The result's field names, in declaration order."""
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, dict) else []


def select_declared(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared field with the engine's value (None where it gave none); unknown keys dropped."""
    return {name: values.get(name) for name in declared_fields(schema)}


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def check_result(schema: Mapping[str, Any], result: Mapping[str, Any]) -> list[Problem]:
    """Every way ``result`` breaks ``schema`` (empty when it is valid)."""
    validator_class, _ = _validator_class()
    validator = validator_class(dict(schema), format_checker=_format_checker())
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(dict(result)), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        if path:
            where = ".".join(str(part) for part in path[1:])
            detail = f"{_short(error.instance)} {_reason(error)}"
            problems.append(Problem(str(path[0]), f"{where}: {detail}" if where else detail))
        elif error.validator == "required":
            missing = [name for name in error.validator_value if name not in result]
            problems.extend(Problem(name, "is required") for name in missing)
        else:
            problems.append(Problem(None, error.message))
    return problems


def _reason(error: Any) -> str:
    """The error's message without the instance jsonschema puts in front of it."""
    kind = error.validator
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"is not of type {expected}"
    if kind == "enum":
        return "is not one of " + ", ".join(_short(v) for v in error.validator_value)
    if kind == "format":
        return {"date": "is not a real date in YYYY-MM-DD form",
                "date-time": "is not an RFC 3339 date-time with a UTC offset (2026-03-04T15:00:00-05:00)",
                }.get(error.validator_value, f"is not a valid {error.validator_value}")
    message = str(error.message)
    prefix = _short(error.instance)
    return message[len(prefix):].strip() if message.startswith(prefix) else message


def failed_fields(schema: Mapping[str, Any], problems: Iterable[Problem]) -> set[str]:
    """The fields ``problems`` concern; a problem with the whole result concerns every field."""
    names: set[str] = set()
    declared = declared_fields(schema)
    for problem in problems:
        if problem.field is None:
            return set(declared)
        names.add(problem.field)
    return names


def null_failed(schema: Mapping[str, Any], result: Mapping[str, Any], problems: Sequence[Problem]) -> dict[str, Any]:
    """``result`` with every failed field set to null (declared fields only)."""
    failed = failed_fields(schema, problems)
    return {name: None if name in failed else result.get(name) for name in declared_fields(schema)}


def describe_problems(problems: Sequence[Problem]) -> str:
    """The problems as lines, for the model's feedback and for ``extraction.error``."""
    shown = [f"- {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"- and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(shown)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _find_quote(quote: str, transcript: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The transcript's own words for ``quote`` (matched ignoring case and spacing), or None."""
    wanted = _collapse(quote).strip(" \"'“”‘’")
    if not wanted:
        return None
    for segment in transcript:
        text = _collapse(str(segment.get("text") or ""))
        if wanted in text:
            return wanted
        lowered = text.lower()
        # lower() keeps positions only when it keeps lengths (it does for almost every script).
        if len(lowered) == len(text):
            at = lowered.find(wanted.lower())
            if at >= 0:
                return text[at:at + len(wanted)]
    return None


def verified_evidence(evidence: Any, result: Mapping[str, Any],
                      transcript: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The quotes of filled fields that really are in the transcript, as the transcript words them.

    A quote the transcript does not contain (a paraphrase, an invented line) is dropped rather than
    shown as evidence; it does not fail the extraction, because the value was validated on its own.
    """
    if not isinstance(evidence, Mapping):
        return {}
    kept: dict[str, str] = {}
    for name, value in result.items():
        quote = evidence.get(name)
        if value is None or not isinstance(quote, str):
            continue
        found = _find_quote(quote, transcript)
        if found is not None:
            kept[name] = found
    return kept
