"""Base classes for every public shape.

Response models tolerate fields they do not know (a newer server must not break an
older SDK); request models reject them (a typo must not be silently dropped).

Validators are built on first use (``defer_build``), not at import: a cold Lambda or a fresh SDK
process pays only for the models it actually touches.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ResponseModel", "RequestModel"]


class ResponseModel(BaseModel):
    """An object returned by the API; unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class RequestModel(BaseModel):
    """A request body; unknown fields are a 400 ``unknown_field``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)
