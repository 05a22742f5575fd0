"""The sample numbers the seed docs' snippets refer to (``pn_abc123``, ``pn_xyz789``, …).

The local stack adopts them into the dev workspace under exactly those ids, so every snippet in
the docs runs unchanged against ``make dev``.
"""

from __future__ import annotations

from typing import Iterable

from ..core.numbers import number_document
from ..core.store import numbers as number_store

__all__ = ["DEMO_NUMBER_IDS", "seed_demo_numbers"]

DEMO_NUMBER_IDS = ("pn_abc123", "pn_xyz789", "pn_new", "pn_old")
# 555-01xx numbers are reserved for fiction: nobody real is ever dialed by accident.
_DEFAULT_E164 = ("+14155550101", "+14155550102", "+14155550103", "+14155550104")


def seed_demo_numbers(workspace_id: str, numbers: Iterable[str] = _DEFAULT_E164, *, carrier: str = "local"
                      ) -> list[dict[str, object]]:
    """Adopt one local number per demo id into ``workspace_id``; returns the number objects."""
    created = []
    for number_id, e164 in zip(DEMO_NUMBER_IDS, numbers):
        carrier_sid = "PN" + number_id.removeprefix("pn_").ljust(32, "0")[:32]
        doc = number_document(number_id, e164, carrier=carrier, carrier_sid=carrier_sid)
        created.append(number_store.insert_number(workspace_id, doc).doc)
    return created
