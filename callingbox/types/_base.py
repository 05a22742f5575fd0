"""Base classes for every public shape.

Response models tolerate fields they do not know (a newer server must not break an
older SDK); request models reject them (a typo must not be silently dropped).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ResponseModel", "RequestModel"]


class ResponseModel(BaseModel):
    """An object returned by the API; unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestModel(BaseModel):
    """A request body; unknown fields are a 400 ``unknown_field``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)
