"""Domain errors, each mapped to one HTTP status and one machine-readable ``code``.

    ApiError
    ├── InvalidRequest        400  invalid_request_error
    ├── Unauthenticated       401  authentication_error
    ├── NotFound              404  invalid_request_error / resource_missing
    ├── Conflict              409  invalid_request_error (retry allowed unless ``permanent``)
    ├── UnsupportedMediaType  415  invalid_request_error
    ├── NotImplementedYet     501  api_error / not_implemented
    └── ServiceUnavailable    503  api_error
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "ApiError",
    "InvalidRequest",
    "Unauthenticated",
    "NotFound",
    "Conflict",
    "NotImplementedYet",
    "UnsupportedMediaType",
    "ServiceUnavailable",
]


class ApiError(Exception):
    """An error the API reports to the client as ``{"error": {...}}``."""

    status = 500
    type = "api_error"
    code = "internal_error"

    def __init__(self, message: str, *, code: Optional[str] = None, param: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param

    @property
    def should_retry(self) -> Optional[bool]:
        """``False`` tells clients not to retry (sent as ``X-Should-Retry``); ``None`` leaves it to them."""
        return None

    def body(self, request_id: Optional[str]) -> dict[str, Any]:
        """The JSON error object."""
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "request_id": request_id,
            }
        }


class InvalidRequest(ApiError):
    """Bad input: malformed JSON, wrong type, unknown field, a broken rule."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class Unauthenticated(ApiError):
    """Missing or unknown API key."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(ApiError):
    """No such resource in the caller's workspace (other workspaces' resources look the same)."""

    status = 404
    type = "invalid_request_error"
    code = "resource_missing"


class Conflict(ApiError):
    """The request conflicts with the current state."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"

    def __init__(self, message: str, *, code: Optional[str] = None, param: Optional[str] = None,
                 permanent: bool = True) -> None:
        super().__init__(message, code=code, param=param)
        self.permanent = permanent

    @property
    def should_retry(self) -> Optional[bool]:
        return False if self.permanent else True


class UnsupportedMediaType(ApiError):
    """The body is declared as something other than JSON."""

    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"

    @property
    def should_retry(self) -> Optional[bool]:
        return False


class NotImplementedYet(ApiError):
    """A documented feature this deployment does not provide yet; says which."""

    status = 501
    type = "api_error"
    code = "not_implemented"

    @property
    def should_retry(self) -> Optional[bool]:
        return False


class ServiceUnavailable(ApiError):
    """A dependency did not answer; safe to retry."""

    status = 503
    type = "api_error"
    code = "service_unavailable"

    @property
    def should_retry(self) -> Optional[bool]:
        return True
