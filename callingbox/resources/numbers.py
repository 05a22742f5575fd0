"""``client.numbers`` (alias ``client.phone_numbers``): phone numbers and their filter rules (``/v1/numbers``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal, TypeVar, Unpack

from pydantic import Field

from .._base_client import construct, path_id
from .._types import NOT_GIVEN, NotGiven, RequestOptions, strip_not_given
from ..pagination import AsyncCursorPage, SyncCursorPage
from ..types import DeletedObject, NumberImport, NumberRule, PhoneNumber
from ..types._base import ResponseModel
from ..types.phone_number import FilterMode, InboundMode, RuleAction
from . import AsyncAPIResource, SyncAPIResource

__all__ = ["Numbers", "AsyncNumbers", "NumberRules", "AsyncNumberRules", "AvailableNumbers"]

RuleStatusInput = Literal["active", "paused"]
RuleStatusFilter = Literal["active", "paused", "deleted"]
_DeletableT = TypeVar("_DeletableT", PhoneNumber, NumberRule)


class AvailableNumbers(ResponseModel):
    """Numbers the carrier offers for sale (``GET /v1/numbers/available``); buy one with ``numbers.buy``.

    Each entry of ``data`` is the carrier's description of one number as a plain dict; it has at
    least ``number`` (E.164).
    """

    object: Literal["list"] = "list"
    data: list[dict[str, Any]] = Field(default_factory=list)


def _create_body(number: str | NotGiven, import_: NumberImport | Mapping[str, str] | NotGiven) -> dict[str, Any]:
    if isinstance(number, NotGiven) == isinstance(import_, NotGiven):
        raise TypeError("pass exactly one of number= (buy a searched number) or import_= (adopt an owned one)")
    return {"number": number} if not isinstance(number, NotGiven) else {"import": import_}


def _deleted(model: type[_DeletableT], data: Any) -> _DeletableT | DeletedObject:
    """A DELETE answer: the object itself (now released or deleted), or a ``{"id", "object", "deleted"}`` stub."""
    if isinstance(data, Mapping) and "deleted" in data:
        return construct(DeletedObject, data)
    return construct(model, data)


def _number_path(number_id: str) -> str:
    return f"/v1/numbers/{path_id('number_id', number_id)}"


def _rule_path(number_id: str, rule_id: str) -> str:
    return f"{_number_path(number_id)}/rules/{path_id('rule_id', rule_id)}"


class NumberRules(SyncAPIResource):
    """``client.numbers.rules``: allow/block rules filtering a number's inbound calls."""

    def create(
        self,
        number_id: str,
        *,
        exact_number: str,
        action: RuleAction,
        status: RuleStatusInput | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> NumberRule:
        """Add a rule (``POST /v1/numbers/{id}/rules``): ``block`` counts in blacklist mode, ``allow`` in whitelist."""
        path = f"{_number_path(number_id)}/rules"
        body = strip_not_given({"exact_number": exact_number, "action": action, "status": status})
        return self._request("POST", path, NumberRule, body=body, options=options)

    def list(
        self,
        number_id: str,
        *,
        status: RuleStatusFilter | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[NumberRule]:
        """List a number's rules (``GET /v1/numbers/{id}/rules``)."""
        path = f"{_number_path(number_id)}/rules"
        query = strip_not_given({"status": status, "limit": limit, "cursor": cursor})
        return self._get_page(path, NumberRule, query=query, options=options)

    def update(
        self,
        number_id: str,
        rule_id: str,
        *,
        action: RuleAction | NotGiven = NOT_GIVEN,
        status: RuleStatusInput | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> NumberRule:
        """Change a rule's action or pause/resume it (``PATCH /v1/numbers/{id}/rules/{rule_id}``)."""
        body = strip_not_given({"action": action, "status": status})
        return self._request("PATCH", _rule_path(number_id, rule_id), NumberRule, body=body, options=options)

    def delete(
        self, number_id: str, rule_id: str, **options: Unpack[RequestOptions]
    ) -> NumberRule | DeletedObject:
        """Delete a rule (``DELETE /v1/numbers/{id}/rules/{rule_id}``)."""
        data = self._client.request("DELETE", _rule_path(number_id, rule_id), options=options)
        return _deleted(NumberRule, data)


class Numbers(SyncAPIResource):
    """Search, buy or import numbers; set their inbound routing; release them."""

    @cached_property
    def rules(self) -> NumberRules:
        """Filter rules of a number."""
        return NumberRules(self._client)

    def list(
        self,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[PhoneNumber]:
        """List the workspace's numbers, newest first (``GET /v1/numbers``)."""
        query = strip_not_given({"limit": limit, "cursor": cursor})
        return self._get_page("/v1/numbers", PhoneNumber, query=query, options=options)

    def retrieve(self, number_id: str, **options: Unpack[RequestOptions]) -> PhoneNumber:
        """Get one number (``GET /v1/numbers/{id}``)."""
        return self._request("GET", _number_path(number_id), PhoneNumber, options=options)

    def list_available(
        self,
        *,
        country: str = "US",
        area_code: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AvailableNumbers:
        """Search the carrier for numbers to buy (``GET /v1/numbers/available``)."""
        query = strip_not_given({"country": country, "area_code": area_code, "limit": limit})
        data = self._client.request("GET", "/v1/numbers/available", query=query, options=options)
        return construct(AvailableNumbers, data)

    def create(
        self,
        *,
        number: str | NotGiven = NOT_GIVEN,
        import_: NumberImport | Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> PhoneNumber:
        """Buy (``number=``) or adopt (``import_={"number", "carrier_sid"}``) a number (``POST /v1/numbers``).

        Raises:
            TypeError: neither or both of ``number`` and ``import_`` were given.
        """
        body = _create_body(number, import_)
        return self._request("POST", "/v1/numbers", PhoneNumber, body=body, options=options)

    def buy(self, *, number: str, **options: Unpack[RequestOptions]) -> PhoneNumber:
        """Buy a number found with :meth:`list_available`."""
        return self.create(number=number, **options)

    def import_number(self, *, number: str, carrier_sid: str, **options: Unpack[RequestOptions]) -> PhoneNumber:
        """Adopt a number the carrier account already owns."""
        return self.create(import_={"number": number, "carrier_sid": carrier_sid}, **options)

    def update(
        self,
        number_id: str,
        *,
        inbound_mode: InboundMode | NotGiven = NOT_GIVEN,
        incoming_call_webhook_url: str | None | NotGiven = NOT_GIVEN,
        filter_mode: FilterMode | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> PhoneNumber:
        """Change routing (``PATCH /v1/numbers/{id}``); arguments left out stay as they are."""
        body = strip_not_given(
            {"inbound_mode": inbound_mode, "incoming_call_webhook_url": incoming_call_webhook_url,
             "filter_mode": filter_mode}
        )
        return self._request("PATCH", _number_path(number_id), PhoneNumber, body=body, options=options)

    def release(self, number_id: str, **options: Unpack[RequestOptions]) -> PhoneNumber | DeletedObject:
        """Release a number (``DELETE /v1/numbers/{id}``); refused (409) while attached to an agent."""
        data = self._client.request("DELETE", _number_path(number_id), options=options)
        return _deleted(PhoneNumber, data)


class AsyncNumberRules(AsyncAPIResource):
    """Async twin of :class:`NumberRules`."""

    async def create(
        self,
        number_id: str,
        *,
        exact_number: str,
        action: RuleAction,
        status: RuleStatusInput | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> NumberRule:
        """Add a rule; see :meth:`NumberRules.create`."""
        path = f"{_number_path(number_id)}/rules"
        body = strip_not_given({"exact_number": exact_number, "action": action, "status": status})
        return await self._request("POST", path, NumberRule, body=body, options=options)

    async def list(
        self,
        number_id: str,
        *,
        status: RuleStatusFilter | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[NumberRule]:
        """List a number's rules; see :meth:`NumberRules.list`."""
        path = f"{_number_path(number_id)}/rules"
        query = strip_not_given({"status": status, "limit": limit, "cursor": cursor})
        return await self._get_page(path, NumberRule, query=query, options=options)

    async def update(
        self,
        number_id: str,
        rule_id: str,
        *,
        action: RuleAction | NotGiven = NOT_GIVEN,
        status: RuleStatusInput | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> NumberRule:
        """Change a rule; see :meth:`NumberRules.update`."""
        body = strip_not_given({"action": action, "status": status})
        return await self._request("PATCH", _rule_path(number_id, rule_id), NumberRule, body=body, options=options)

    async def delete(
        self, number_id: str, rule_id: str, **options: Unpack[RequestOptions]
    ) -> NumberRule | DeletedObject:
        """Delete a rule; see :meth:`NumberRules.delete`."""
        data = await self._client.request("DELETE", _rule_path(number_id, rule_id), options=options)
        return _deleted(NumberRule, data)


class AsyncNumbers(AsyncAPIResource):
    """Async twin of :class:`Numbers`."""

    @cached_property
    def rules(self) -> AsyncNumberRules:
        """Filter rules of a number."""
        return AsyncNumberRules(self._client)

    async def list(
        self,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[PhoneNumber]:
        """List the workspace's numbers; see :meth:`Numbers.list`."""
        query = strip_not_given({"limit": limit, "cursor": cursor})
        return await self._get_page("/v1/numbers", PhoneNumber, query=query, options=options)

    async def retrieve(self, number_id: str, **options: Unpack[RequestOptions]) -> PhoneNumber:
        """Get one number; see :meth:`Numbers.retrieve`."""
        return await self._request("GET", _number_path(number_id), PhoneNumber, options=options)

    async def list_available(
        self,
        *,
        country: str = "US",
        area_code: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AvailableNumbers:
        """Search the carrier for numbers to buy; see :meth:`Numbers.list_available`."""
        query = strip_not_given({"country": country, "area_code": area_code, "limit": limit})
        data = await self._client.request("GET", "/v1/numbers/available", query=query, options=options)
        return construct(AvailableNumbers, data)

    async def create(
        self,
        *,
        number: str | NotGiven = NOT_GIVEN,
        import_: NumberImport | Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> PhoneNumber:
        """Buy or adopt a number; see :meth:`Numbers.create`."""
        body = _create_body(number, import_)
        return await self._request("POST", "/v1/numbers", PhoneNumber, body=body, options=options)

    async def buy(self, *, number: str, **options: Unpack[RequestOptions]) -> PhoneNumber:
        """Buy a number found with :meth:`list_available`."""
        return await self.create(number=number, **options)

    async def import_number(
        self, *, number: str, carrier_sid: str, **options: Unpack[RequestOptions]
    ) -> PhoneNumber:
        """Adopt a number the carrier account already owns."""
        return await self.create(import_={"number": number, "carrier_sid": carrier_sid}, **options)

    async def update(
        self,
        number_id: str,
        *,
        inbound_mode: InboundMode | NotGiven = NOT_GIVEN,
        incoming_call_webhook_url: str | None | NotGiven = NOT_GIVEN,
        filter_mode: FilterMode | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> PhoneNumber:
        """Change routing; see :meth:`Numbers.update`."""
        body = strip_not_given(
            {"inbound_mode": inbound_mode, "incoming_call_webhook_url": incoming_call_webhook_url,
             "filter_mode": filter_mode}
        )
        return await self._request("PATCH", _number_path(number_id), PhoneNumber, body=body, options=options)

    async def release(
        self, number_id: str, **options: Unpack[RequestOptions]
    ) -> PhoneNumber | DeletedObject:
        """Release a number; see :meth:`Numbers.release`."""
        data = await self._client.request("DELETE", _number_path(number_id), options=options)
        return _deleted(PhoneNumber, data)
