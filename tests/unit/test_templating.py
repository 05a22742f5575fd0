"""``{{variable}}`` placeholders."""

from __future__ import annotations

import pytest

from callingbox.core.templating import UnknownVariable, placeholders, render


def test_fills_flat_and_nested_values() -> None:
    text = "Hi {{ name }}, your visit at {{appointment.time}} with {{doctors.0}}."
    context = {"name": "Ana", "appointment": {"time": "3pm"}, "doctors": ["Dr. Lee"]}
    assert render(text, context) == "Hi Ana, your visit at 3pm with Dr. Lee."


def test_an_unknown_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(UnknownVariable) as caught:
        render("Hi {{name}}", {"other": 1})
    assert caught.value.name == "name"


def test_text_without_placeholders_needs_no_context() -> None:
    assert render("plain", None) == "plain"
    assert render(None, {"a": 1}) is None


def test_lists_the_variables_in_order() -> None:
    assert placeholders("{{a}} and {{ b.c }} then {{a}}") == ["a", "b.c", "a"]


def test_values_become_speakable_text() -> None:
    assert render("{{ok}} {{n}}", {"ok": True, "n": 3}) == "yes 3"
