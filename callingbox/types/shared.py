"""Shapes shared by every resource: lists, errors, field formats."""

from __future__ import annotations

import re
from typing import Annotated, Generic, Literal, Optional, TypeVar

from pydantic import AfterValidator, StringConstraints

from ._base import ResponseModel

__all__ = [
    "E164",
    "ResourceId",
    "Metadata",
    "ListObject",
    "ErrorDetail",
    "ErrorResponse",
    "DeletedObject",
    "E164_PATTERN",
]

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
_E164 = re.compile(E164_PATTERN)

MAX_METADATA_PAIRS = 20
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500


def _check_e164(value: str) -> str:
    if not _E164.fullmatch(value):
        raise ValueError("must be an E.164 phone number such as +14155550123")
    return value


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_PAIRS:
        raise ValueError(f"may hold at most {MAX_METADATA_PAIRS} key/value pairs")
    for key, item in value.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise ValueError(f"keys must be 1 to {MAX_METADATA_KEY} characters")
        if len(item) > MAX_METADATA_VALUE:
            raise ValueError(f"values must be at most {MAX_METADATA_VALUE} characters")
    return value


ResourceId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A resource id such as ``agent_01jd…`` or ``pn_abc123``."""

E164 = Annotated[str, AfterValidator(_check_e164)]
"""A phone number in E.164 form (``+14155550123``)."""

Metadata = Annotated[dict[str, Annotated[str, StringConstraints(strict=True)]], AfterValidator(_check_metadata)]
"""Up to 20 string key/value pairs, stored and returned as given."""

T = TypeVar("T")


class ListObject(ResponseModel, Generic[T]):
    """One page of a newest-first list; pass ``next_cursor`` back as ``cursor`` for the next."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
    next_cursor: Optional[str] = None


class ErrorDetail(ResponseModel):
    """What went wrong: ``type`` groups errors, ``code`` is machine-readable, ``param`` names the field."""

    type: str
    code: str
    message: str
    param: Optional[str] = None
    request_id: Optional[str] = None


class ErrorResponse(ResponseModel):
    """The body of every 4xx/5xx response."""

    error: ErrorDetail


class DeletedObject(ResponseModel):
    """Returned by DELETE endpoints."""

    id: str
    object: str
    deleted: bool = True


