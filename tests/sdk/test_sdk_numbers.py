"""``client.numbers`` and ``client.numbers.rules``."""

from __future__ import annotations

import pytest
from sdk_harness import SDK, body_of, listing, number_json, ok, rule_json

from callingbox.resources.numbers import AvailableNumbers
from callingbox.types import DeletedObject, NumberRule, PhoneNumber

pytestmark = pytest.mark.anyio


async def test_list_and_retrieve(sdk: SDK) -> None:
    sdk.server.reply(ok(listing([number_json()])), ok(number_json()))
    page = await sdk.run(lambda c: c.numbers.list(limit=10))
    assert (sdk.server.last.url.path, dict(sdk.server.last.url.params)) == ("/v1/numbers", {"limit": "10"})
    assert isinstance(page.data[0], PhoneNumber)
    number = await sdk.run(lambda c: c.phone_numbers.retrieve("pn_1"))
    assert sdk.server.last.url.path == "/v1/numbers/pn_1"
    assert number.number == "+14155550100"


async def test_list_available(sdk: SDK) -> None:
    sdk.server.reply(ok({"object": "list", "data": [{"number": "+14155550111", "locality": "SF"}]}), ok(listing([])))
    available = await sdk.run(lambda c: c.numbers.list_available(area_code="415", limit=3))
    assert sdk.server.last.url.path == "/v1/numbers/available"
    assert dict(sdk.server.last.url.params) == {"country": "US", "area_code": "415", "limit": "3"}
    assert isinstance(available, AvailableNumbers)
    assert available.data == [{"number": "+14155550111", "locality": "SF"}]
    await sdk.run(lambda c: c.numbers.list_available(country="CA"))
    assert dict(sdk.server.last.url.params) == {"country": "CA"}


async def test_buy_and_import(sdk: SDK) -> None:
    sdk.server.reply(ok(number_json()), ok(number_json()), ok(number_json()), ok(number_json()))
    await sdk.run(lambda c: c.numbers.buy(number="+14155550111"))
    assert (sdk.server.last.method, body_of(sdk.server.last)) == ("POST", {"number": "+14155550111"})
    await sdk.run(lambda c: c.numbers.import_number(number="+14155550112", carrier_sid="PN123"))
    assert body_of(sdk.server.last) == {"import": {"number": "+14155550112", "carrier_sid": "PN123"}}
    await sdk.run(lambda c: c.numbers.create(number="+14155550113"))
    assert body_of(sdk.server.last) == {"number": "+14155550113"}
    number = await sdk.run(lambda c: c.numbers.create(import_={"number": "+14155550114", "carrier_sid": "PN9"}))
    assert body_of(sdk.server.last) == {"import": {"number": "+14155550114", "carrier_sid": "PN9"}}
    assert isinstance(number, PhoneNumber)
    assert all(r.headers["Idempotency-Key"] for r in sdk.server.requests)


@pytest.mark.parametrize("kwargs", [{}, {"number": "+14155550111", "import_": {"number": "+1", "carrier_sid": "x"}}])
async def test_create_needs_exactly_one_of_number_and_import(sdk: SDK, kwargs: dict) -> None:
    with pytest.raises(TypeError, match="exactly one"):
        await sdk.run(lambda c: c.numbers.create(**kwargs))
    assert sdk.server.requests == []


async def test_update_sends_only_given_fields(sdk: SDK) -> None:
    sdk.server.reply(ok(number_json(inbound_mode="webhook")))
    number = await sdk.run(lambda c: c.numbers.update(
        "pn_1", inbound_mode="webhook", incoming_call_webhook_url="https://hooks.example/in"
    ))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("PATCH", "/v1/numbers/pn_1")
    assert body_of(sdk.server.last) == {
        "inbound_mode": "webhook", "incoming_call_webhook_url": "https://hooks.example/in",
    }
    assert number.inbound_mode == "webhook"


async def test_release_accepts_the_number_or_a_deleted_stub(sdk: SDK) -> None:
    sdk.server.reply(ok(number_json(status="released")), ok({"id": "pn_1", "object": "phone_number", "deleted": True}))
    released = await sdk.run(lambda c: c.numbers.release("pn_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("DELETE", "/v1/numbers/pn_1")
    assert isinstance(released, PhoneNumber) and released.status == "released"
    stub = await sdk.run(lambda c: c.numbers.release("pn_1"))
    assert isinstance(stub, DeletedObject) and stub.deleted


async def test_rules(sdk: SDK) -> None:
    sdk.server.reply(ok(rule_json()), ok(listing([rule_json()])), ok(rule_json(status="paused")),
                     ok(rule_json(status="deleted")))
    rule = await sdk.run(lambda c: c.numbers.rules.create("pn_1", exact_number="+14155550199", action="block"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/numbers/pn_1/rules")
    assert body_of(sdk.server.last) == {"exact_number": "+14155550199", "action": "block"}
    assert isinstance(rule, NumberRule)

    page = await sdk.run(lambda c: c.numbers.rules.list("pn_1", status="active"))
    assert sdk.server.last.url.path == "/v1/numbers/pn_1/rules"
    assert dict(sdk.server.last.url.params) == {"status": "active"}
    assert page.data[0].id == "rule_1"

    paused = await sdk.run(lambda c: c.numbers.rules.update("pn_1", "rule_1", status="paused"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("PATCH", "/v1/numbers/pn_1/rules/rule_1")
    assert body_of(sdk.server.last) == {"status": "paused"}
    assert paused.status == "paused"

    deleted = await sdk.run(lambda c: c.numbers.rules.delete("pn_1", "rule_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("DELETE", "/v1/numbers/pn_1/rules/rule_1")
    assert isinstance(deleted, NumberRule) and deleted.status == "deleted"
