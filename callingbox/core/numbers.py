"""Phone number rules: search, buy, import and release through the carrier; routing settings and
filter rules (seeds 001, 004).

The carrier and the store are kept in step: a number is bought (or adopted) at the carrier before
it is stored, and released at the carrier before it is marked released; when the second step
fails the first is undone where undoing is safe (see :func:`create_number`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Optional

from .carrier.base import CarrierError, OwnedNumber
from .clock import now_s
from .errors import ApiError, Conflict, InvalidRequest, ServiceUnavailable
from .ids import new_id
from .observability import get_logger
from .pagination import Page
from .scope import Scope
from .settings import Settings
from .store import numbers as number_store
from .store.conditions import VersionConflict
from .urls import check_customer_url
from .validation import parse_params

if TYPE_CHECKING:
    from .carrier.base import Carrier

__all__ = [
    "CarrierSource",
    "VOICE_WEBHOOK_PATH",
    "STATUS_WEBHOOK_PATH",
    "number_document",
    "available_numbers",
    "create_number",
    "release_number",
    "get_number",
    "list_numbers",
    "update_number",
    "create_rule",
    "list_rules",
    "update_rule",
    "delete_rule",
]

MAX_ATTEMPTS = 8
# Where the carrier sends a number's inbound calls and their status callbacks (the webhooks' routes).
VOICE_WEBHOOK_PATH = "/twilio/voice"
STATUS_WEBHOOK_PATH = "/twilio/status"
# Twilio: "Phone number requested is not available" / "not a valid phone number".
_NOT_AVAILABLE_CODES = {"21422", "21421"}

# Builds (or returns the cached) carrier; raises CarrierNotConfigured when there is none. Passed
# in by the caller (the API's Runtime.carrier) so the domain rules never build clients themselves.
CarrierSource = Callable[[], "Carrier"]

_COUNTRY = re.compile(r"[A-Za-z]{2}")
_AREA_CODE = re.compile(r"[0-9]{3}")


def _models() -> Any:
    """The request models, loaded by the first write: reads never need pydantic."""
    from ..types import phone_number

    return phone_number


def number_document(number_id: str, e164: str, *, carrier: str, carrier_sid: str,
                    capabilities: Optional[dict[str, bool]] = None) -> dict[str, Any]:
    """A new number's public object, with the routing defaults of seed 004."""
    return {
        "id": number_id,
        "object": "phone_number",
        "number": e164,
        "carrier": carrier,
        "carrier_sid": carrier_sid,
        "capabilities": dict(capabilities or {"voice": True, "sms": False}),
        "inbound_agent_id": None,
        "inbound_mode": "agent",
        "incoming_call_webhook_url": None,
        "filter_mode": "blacklist",
        "status": "active",
        "created": now_s(),
    }


def _carrier_label(settings: Settings) -> str:
    """The ``carrier`` field of stored numbers: ``local`` in the local stack, else ``twilio``."""
    return settings.carrier if settings.carrier in ("twilio", "local") else "twilio"


def _store_only(settings: Settings) -> bool:
    """Local numbers are only records: imports and releases skip the carrier.

    In the local stack there is no real number to adopt; the local carrier routes every number it
    does not hold to the platform's voice webhook, which finds the imported record by its E.164.
    Buying and searching still go to the (local) carrier.
    """
    return settings.carrier == "local"


def _carrier_error(error: CarrierError, *, param: Optional[str], action: str) -> ApiError:
    """What the client is told when the carrier refused or failed (never a 500)."""
    if error.retryable:
        return ServiceUnavailable(f"the carrier did not answer while trying to {action}; retry: {error.message}",
                                  code="carrier_unavailable")
    if error.status in (401, 403):
        return ServiceUnavailable(f"the carrier refused this deployment's credentials: {error.message}",
                                  code="carrier_auth_failed")
    return InvalidRequest(f"the carrier refused to {action}: {error.message}", code="carrier_rejected", param=param)


def _webhook_urls(settings: Settings) -> tuple[str, str]:
    from .carrier.signatures import public_url

    return public_url(settings, VOICE_WEBHOOK_PATH), public_url(settings, STATUS_WEBHOOK_PATH)


def available_numbers(scope: Scope, *, country: Optional[str], area_code: Optional[str], limit: int,
                      carrier: CarrierSource) -> list[dict[str, Any]]:
    """``GET /v1/numbers/available``: the carrier's local numbers on offer, as public objects."""
    country = "US" if country in (None, "") else country
    if not _COUNTRY.fullmatch(country):
        raise InvalidRequest("country must be a two-letter ISO 3166 code such as US", param="country")
    if area_code is not None and not _AREA_CODE.fullmatch(area_code):
        raise InvalidRequest("area_code must be three digits", param="area_code")
    country = country.upper()
    try:
        offered = carrier().search_available(country=country, area_code=area_code, limit=limit)
    except CarrierError as error:
        if error.status == 404:
            raise InvalidRequest(f"the carrier offers no numbers in {country}", code="country_not_supported",
                                 param="country") from error
        raise _carrier_error(error, param="area_code" if area_code else "country",
                             action="search numbers") from error
    return [
        {"object": "available_phone_number", "number": item.number, "locality": item.locality,
         "region": item.region, "country": item.country, "capabilities": dict(item.capabilities)}
        for item in offered[:limit]
    ]


def _refuse_registered(e164: str, param: str) -> None:
    # Checked before touching the carrier; the store's insert re-checks it atomically.
    if number_store.is_registered(e164):
        raise Conflict(f"{e164} is already registered", code="number_already_exists", param=param, permanent=True)


def _buy(scope: Scope, e164: str, carrier: CarrierSource) -> dict[str, Any]:
    settings = scope.settings
    _refuse_registered(e164, "number")
    provider = carrier()
    voice_url, status_url = _webhook_urls(settings)
    try:
        owned = provider.buy(e164, voice_url=voice_url, status_callback_url=status_url)
    except CarrierError as error:
        if error.code in _NOT_AVAILABLE_CODES:
            raise InvalidRequest(f"{e164} is not available to buy: {error.message}", code="number_not_available",
                                 param="number") from error
        raise _carrier_error(error, param="number", action=f"buy {e164}") from error
    doc = number_document(new_id("pn"), owned.number, carrier=_carrier_label(settings),
                          carrier_sid=owned.carrier_sid, capabilities=owned.capabilities)
    try:
        return number_store.insert_number(scope.workspace_id, doc).doc
    except BaseException:
        # Compensate: the account now pays for a number no record points at. Give it back, so a
        # retry of this request buys again from a clean state instead of leaking the number.
        _give_back(provider, owned)
        raise


def _give_back(provider: "Carrier", owned: OwnedNumber) -> None:
    try:
        provider.release(owned.carrier_sid)
    except CarrierError:
        get_logger("api").exception("a bought number could not be stored nor released: release it by hand",
                                    extra={"number": owned.number, "carrier_sid": owned.carrier_sid})


def _import(scope: Scope, e164: str, carrier_sid: str, carrier: CarrierSource) -> dict[str, Any]:
    settings = scope.settings
    owned = OwnedNumber(e164, carrier_sid)
    if not _store_only(settings):
        _refuse_registered(e164, "import.number")
        provider = carrier()
        voice_url, status_url = _webhook_urls(settings)
        try:
            owned = provider.adopt(carrier_sid, e164, voice_url=voice_url, status_callback_url=status_url)
        except CarrierError as error:
            if error.status == 404:
                raise InvalidRequest(f"the carrier account has no number {carrier_sid}",
                                     code="carrier_number_not_found", param="import.carrier_sid") from error
            if error.code == "number_mismatch":
                raise InvalidRequest(error.message, code="carrier_number_mismatch",
                                     param="import.carrier_sid") from error
            raise _carrier_error(error, param="import.carrier_sid", action=f"adopt {carrier_sid}") from error
    # No compensation if storing fails: the account owned the number before and still does; only
    # its webhooks now point here, which a retried import does again anyway.
    doc = number_document(new_id("pn"), e164, carrier=_carrier_label(settings), carrier_sid=owned.carrier_sid,
                          capabilities=owned.capabilities)
    return number_store.insert_number(scope.workspace_id, doc).doc


def create_number(scope: Scope, body: Any, *, carrier: CarrierSource) -> dict[str, Any]:
    """``POST /v1/numbers``: buy a searched number (``number``) or adopt an owned one (``import``).

    Both go through the carrier, which points the number's voice webhook and status callback at
    this deployment. Exception: the local stack without Twilio credentials stores imports as they
    are (the sample numbers). A bought number that cannot be stored is released again.
    """
    params = parse_params(_models().NumberCreateParams, body)
    if params.import_ is not None:
        return _import(scope, params.import_.number, params.import_.carrier_sid, carrier)
    assert params.number is not None  # the model requires exactly one of the two
    return _buy(scope, params.number, carrier)


def release_number(scope: Scope, number_id: str, *, carrier: CarrierSource) -> dict[str, Any]:
    """``DELETE /v1/numbers/{id}``: give the number back to the carrier; the record stays, ``released``.

    Refused (409 ``number_attached``, permanent) while any non-archived agent lists it. Releasing
    a released number returns it unchanged. A carrier failure leaves the number as it was.
    Released numbers drop out of ``GET /v1/numbers`` but stay readable by id, so calls made from
    them still resolve; their E.164 number may be bought or imported again as a new record.
    """
    record = number_store.get_number(scope.workspace_id, number_id)
    if record.state == "released":
        return record.doc
    provider = None if _store_only(scope.settings) else carrier()
    for _ in range(MAX_ATTEMPTS):
        try:
            record = number_store.begin_release(scope.workspace_id, number_id)
        except VersionConflict:
            continue
        break
    else:
        raise Conflict("the number is being edited concurrently; retry", code="concurrent_update", permanent=False)
    if record.state == "released":
        return record.doc
    try:
        number_store.refuse_attached(number_id, number_store.agents_using(scope.workspace_id, number_id))
        if provider is not None:
            _release_at_carrier(provider, record.doc)
    except BaseException:
        number_store.abort_release(scope.workspace_id, number_id)
        raise
    return number_store.finish_release(scope.workspace_id, number_id).doc


def _release_at_carrier(provider: "Carrier", doc: dict[str, Any]) -> None:
    try:
        provider.release(doc["carrier_sid"])
    except CarrierError as error:
        if error.status == 404:
            return  # the account no longer holds it (released elsewhere): the outcome we want
        raise _carrier_error(error, param="number_id", action=f"release {doc['number']}") from error


def get_number(scope: Scope, number_id: str) -> dict[str, Any]:
    """``GET /v1/numbers/{id}``."""
    return number_store.get_number(scope.workspace_id, number_id).doc


def list_numbers(scope: Scope, *, limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/numbers``."""
    return number_store.list_numbers(scope.workspace_id, limit=limit, cursor=cursor)


def update_number(scope: Scope, number_id: str, body: Any) -> dict[str, Any]:
    """``PATCH /v1/numbers/{id}``: inbound mode, its webhook, and the filter mode."""
    sent = parse_params(_models().NumberUpdateParams, body).model_dump(exclude_unset=True)
    for field in ("inbound_mode", "filter_mode"):
        if field in sent and sent[field] is None:
            raise InvalidRequest(f"{field} cannot be null", code="invalid_type", param=field)
    check_customer_url(sent.get("incoming_call_webhook_url"), param="incoming_call_webhook_url",
                       allow_insecure=scope.settings.allow_insecure_urls)
    for _ in range(MAX_ATTEMPTS):
        record = number_store.get_number(scope.workspace_id, number_id)
        if record.state == "released":
            raise Conflict(f"number {number_id!r} is released", code="number_released", param="number_id",
                           permanent=True)
        doc = {**record.doc, **sent}
        if doc["inbound_mode"] == "webhook" and not doc.get("incoming_call_webhook_url"):
            raise InvalidRequest("inbound_mode webhook needs incoming_call_webhook_url", code="missing_field",
                                 param="incoming_call_webhook_url")
        try:
            return number_store.update_number(scope.workspace_id, doc, expected_version=record.version).doc
        except VersionConflict:
            continue
    raise Conflict("the number is being edited concurrently; retry", code="concurrent_update", permanent=False)


def create_rule(scope: Scope, number_id: str, body: Any) -> dict[str, Any]:
    """``POST /v1/numbers/{id}/rules``: one live rule per caller number."""
    params = parse_params(_models().RuleCreateParams, body)
    number_store.get_number(scope.workspace_id, number_id)
    now = now_s()
    doc = {
        "id": new_id("rule"),
        "object": "number_rule",
        "number_id": number_id,
        "exact_number": params.exact_number,
        "action": params.action,
        "status": params.status,
        "created": now,
        "updated": now,
    }
    return number_store.insert_rule(scope.workspace_id, doc).doc


def list_rules(scope: Scope, number_id: str, *, status: Optional[str], limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/numbers/{id}/rules``."""
    if status is not None and status not in ("active", "paused", "deleted"):
        raise InvalidRequest("status must be active, paused or deleted", param="status")
    number_store.get_number(scope.workspace_id, number_id)
    return number_store.list_rules(scope.workspace_id, number_id, status=status, limit=limit, cursor=cursor)


def _edit_rule(scope: Scope, number_id: str, rule_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    number_store.get_number(scope.workspace_id, number_id)
    for _ in range(MAX_ATTEMPTS):
        record = number_store.get_rule(scope.workspace_id, number_id, rule_id)
        if record.doc["status"] == "deleted":
            raise Conflict(f"rule {rule_id} is deleted", code="rule_deleted", param="rule_id", permanent=True)
        doc = {**record.doc, **changes, "updated": now_s()}
        try:
            return number_store.update_rule(scope.workspace_id, doc, expected_version=record.version).doc
        except VersionConflict:
            continue
    raise Conflict("the rule is being edited concurrently; retry", code="concurrent_update", permanent=False)


def update_rule(scope: Scope, number_id: str, rule_id: str, body: Any) -> dict[str, Any]:
    """``PATCH /v1/numbers/{id}/rules/{rule_id}``."""
    sent = parse_params(_models().RuleUpdateParams, body).model_dump(exclude_unset=True)
    for field, value in sent.items():
        if value is None:
            raise InvalidRequest(f"{field} cannot be null", code="invalid_type", param=field)
    return _edit_rule(scope, number_id, rule_id, sent)


def delete_rule(scope: Scope, number_id: str, rule_id: str) -> dict[str, Any]:
    """``DELETE /v1/numbers/{id}/rules/{rule_id}``: the rule is kept with ``status: deleted``."""
    return _edit_rule(scope, number_id, rule_id, {"status": "deleted"})
