"""From HTTP to the core and back: one wrapper gives every route auth, idempotency, the error
object, ``Request-Id`` and logging, so the route modules only say what each operation does."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from chalice import Blueprint, Response

from callingbox.core.errors import ApiError, Conflict, InvalidRequest, NotFound, UnsupportedMediaType
from callingbox.core.observability import get_logger, get_metrics
from callingbox.core.operations import Operation, operation
from callingbox.core.pagination import Page
from callingbox.core.scope import Scope
from callingbox.core.store import idempotency
from callingbox.core.store.conditions import VersionConflict
from callingbox.core.validation import parse_json

from . import runtime

__all__ = ["Request", "Routes"]

# Chalice lets every content type through so that a refused one still gets our error object (with its
# Request-Id) instead of Chalice's own 415 body; ``_check_content_type`` decides.
CONTENT_TYPES = ["*/*"]
# JSON, and what curl and form tools send by default, is read as JSON; a body declared as anything
# else (XML, multipart, binary) is refused.
_READ_AS_JSON = ("json", "text/plain", "application/x-www-form-urlencoded")
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255


@dataclass
class Request:
    """What a route handler gets: the caller's scope, path parameters, query and raw body."""

    scope: Scope
    path: dict[str, str]
    query: dict[str, str]
    raw_body: bytes
    request_id: str
    _body: Any = field(default=None, init=False)
    _parsed: bool = field(default=False, init=False)

    @property
    def body(self) -> Any:
        """The JSON body (``{}`` when empty); malformed JSON is a 400."""
        if not self._parsed:
            self._body = parse_json(self.raw_body)
            self._parsed = True
        return self._body

    @property
    def queues(self) -> Any:
        """The job queues of this deployment."""
        return runtime.current().queues


Handler = Callable[[Request], Any]


def _json(body: str, status: int, request_id: str, extra: Optional[dict[str, str]] = None) -> Response:
    headers = {"Content-Type": "application/json", "Request-Id": request_id}
    if extra:
        headers.update(extra)
    return Response(body=body, status_code=status, headers=headers)


def _render(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, Page):
        return result.to_json()
    if isinstance(result, list):
        return json.dumps({"object": "list", "data": result, "has_more": False, "next_cursor": None})
    return json.dumps(result)


def _error_response(error: ApiError, request_id: str) -> Response:
    extra = {}
    if error.should_retry is not None:
        extra["X-Should-Retry"] = "true" if error.should_retry else "false"
    return _json(json.dumps(error.body(request_id)), error.status, request_id, extra)


def _request_hash(method: str, path: str, raw_body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw_body or b"{}"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw_body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


# Longer ids exist nowhere (ours are ~30 characters); refusing them early keeps oversized keys away
# from DynamoDB, which rejects keys over 1,024 bytes with an error we would otherwise turn into a 500.
MAX_PATH_ID = 128


def _check_query(spec: Operation, query: dict[str, str]) -> None:
    known = {param.name for param in spec.query}
    for name in query:
        if name not in known:
            raise InvalidRequest(f"unknown query parameter {name!r}", code="unknown_parameter", param=name)


def _check_path(path: dict[str, str]) -> None:
    for name, value in path.items():
        if len(value) > MAX_PATH_ID:
            raise NotFound(f"no resource with {name} {value[:20]}…", param=name)


def _check_content_type(content_type: Optional[str], raw_body: bytes) -> None:
    if raw_body and content_type and not any(kind in content_type.lower() for kind in _READ_AS_JSON):
        raise UnsupportedMediaType(f"the body must be JSON (Content-Type: application/json), not {content_type}",
                                   param="Content-Type")


def _with_request_id(replay: idempotency.StoredResponse, request_id: str) -> str:
    """A replayed error names this request's id, as every error body repeats its ``Request-Id``."""
    if replay.status_code < 400:
        return replay.body
    body = json.loads(replay.body)
    body["error"]["request_id"] = request_id
    return json.dumps(body)


class Routes:
    """Registers operations from the shared table on one Chalice blueprint."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint

    def operation(self, operation_id: str) -> Callable[[Handler], Handler]:
        """Serve ``operation_id`` (method and path come from :mod:`callingbox.core.operations`)."""
        spec = operation(operation_id)

        def register(handler: Handler) -> Handler:
            def view(**path: str) -> Response:
                return self._serve(spec, handler, path)

            view.__name__ = operation_id.replace(".", "_")
            self.blueprint.route(spec.path, methods=[spec.method], content_types=CONTENT_TYPES)(view)
            return handler

        return register

    def _serve(self, spec: Operation, handler: Handler, path: dict[str, str]) -> Response:
        request = self.blueprint.current_request
        context = request.context or {}
        request_id = str(context.get("requestId") or f"req_{uuid.uuid4().hex}")
        logger = get_logger("api")
        logger.set_correlation_id(request_id)
        logger.append_keys(request_id=request_id, operation=spec.id)
        for name in ("call_id", "agent_id", "number_id"):
            if name in path:
                logger.append_keys(**{name: path[name]})
        try:
            return self._run(spec, handler, path, request, request_id)
        except ApiError as error:
            self._count_error(spec, error.code)
            logger.info("request refused", extra={"status": error.status, "code": error.code, "param": error.param})
            return _error_response(error, request_id)
        except VersionConflict:
            # A write lost a race its handler did not retry: the client may simply try again.
            self._count_error(spec, "concurrent_update")
            logger.warning("request lost a concurrent write")
            return _error_response(Conflict("the resource changed while this request ran; retry",
                                            code="concurrent_update", permanent=False), request_id)
        except Exception:
            self._count_error(spec, "internal_error")
            logger.exception("request failed")
            return _error_response(ApiError("an internal error occurred; it has been logged"), request_id)
        finally:
            logger.remove_keys(["operation", "call_id", "agent_id", "number_id"])

    def _run(self, spec: Operation, handler: Handler, path: dict[str, str], request: Any,
             request_id: str) -> Response:
        rt = runtime.current()
        headers = request.headers or {}
        workspace_id = ""
        if spec.authenticated:
            from callingbox.core.auth import bearer_token

            workspace_id = rt.keys.workspace(bearer_token(headers.get("authorization")))
        query = {name: str(value) for name, value in (request.query_params or {}).items()}
        _check_query(spec, query)
        _check_path(path)
        raw_body = request.raw_body or b""
        _check_content_type(headers.get("content-type"), raw_body)
        # Per request: without a configured public URL, the one API Gateway reports (numbers give
        # it to the carrier as their voice URL).
        call = Request(Scope(workspace_id, rt.settings_for(request.context)), path, query, raw_body, request_id)
        key = headers.get(IDEMPOTENCY_HEADER) if spec.method == "POST" and spec.authenticated else None
        if key is None:
            return _json(_render(handler(call)), 200, request_id)
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                                 param="Idempotency-Key", code="invalid_idempotency_key")
        digest = _request_hash(spec.method, spec.path + json.dumps(path, sort_keys=True), raw_body)
        replay = idempotency.claim(workspace_id, key, digest)
        if replay is not None:
            return _json(_with_request_id(replay, request_id), replay.status_code, request_id,
                         {"Idempotent-Replayed": "true"})
        try:
            body = _render(handler(call))
        except ApiError as error:
            if error.status >= 500:
                idempotency.release(workspace_id, key)
            else:
                # A refusal is an answer too: a retry with the same key gets the same refusal.
                idempotency.finish(workspace_id, key, digest,
                                   idempotency.StoredResponse(error.status, json.dumps(error.body(request_id))))
            raise
        except BaseException:
            idempotency.release(workspace_id, key)
            raise
        idempotency.finish(workspace_id, key, digest, idempotency.StoredResponse(200, body))
        return _json(body, 200, request_id)

    @staticmethod
    def _count_error(spec: Operation, code: str) -> None:
        metrics = get_metrics("api")
        metrics.add_dimension(name="operation", value=spec.id)
        metrics.add_metric(name="ApiErrors", unit="Count", value=1)
        metrics.add_metadata(key="code", value=code)
        metrics.flush_metrics()
