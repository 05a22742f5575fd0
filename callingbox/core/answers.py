"""Asking for a ``returns`` field and understanding the caller's answer: the rules shared by the
voice gateway's builtin dialogue (which asks) and the builtin extractor (which reads the transcript
afterwards and must find the same questions and parse the answers the same way).

- :func:`fields_of` / :class:`Field`: the fields of a ``returns`` schema (shorthand or JSON Schema).
- :func:`question` / :func:`question_for`: the one English question asked for a field.
- :func:`parse_answer`: the typed value of an answer to a field, or None.
- yes/no, numbers, dates and times, choices, free text and DTMF keys: pure functions over text;
  ``None`` always means "did not parse".

Speech recognizers write numbers as words ("twenty three", "four one five"), so words and digits
are both understood. Dates are resolved against the ``today`` the caller passes in.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

__all__ = [
    "Field",
    "fields_of",
    "field_from_schema",
    "question",
    "question_for",
    "parse_answer",
    "words",
    "dtmf_digits",
    "yes_no",
    "number",
    "date",
    "time_of_day",
    "choice",
    "free_text",
    "normalize",
]

CHOICE_CUTOFF = 0.75  # difflib similarity an answer needs to count as a (mis-heard) enum option
AFTERNOON_BEFORE_HOUR = 8  # "at three" with no am/pm means 3 pm: calls book business hours

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_UNITS["oh"] = 0
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ORDINAL_WORDS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
                  "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()
_ORDINALS = {w: i for i, w in enumerate(_ORDINAL_WORDS, 1)} | {"twentieth": 20, "thirtieth": 30}
_ORDINALS |= {f"twenty {w}": 20 + i for i, w in enumerate(_ORDINAL_WORDS[:9], 1)} | {"thirty first": 31}
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = {m: i for i, m in enumerate("january february march april may june july august september "
                                       "october november december".split(), 1)}
_MONTHS |= {m[:3]: i for m, i in list(_MONTHS.items())} | {"sept": 9}
_YES = {"yes", "yeah", "yep", "yup", "ya", "yea", "sure", "correct", "right", "absolutely", "definitely",
        "certainly", "affirmative", "ok", "okay", "confirmed", "confirm", "true", "indeed", "exactly"}
_YES_PHRASES = ("of course", "that's right", "sounds good", "go ahead", "please do", "i do", "i am", "i will")
_NO = {"no", "nope", "nah", "negative", "incorrect", "wrong", "false", "never", "not", "don't", "cancel"}
_UNSURE = ("don't know", "do not know", "not sure", "no idea", "maybe", "unsure", "dunno")
_NOT_ANSWERS = {"what", "sorry", "pardon", "huh", "hello", "hi", "repeat that", "say that again", "excuse me"}
_LEAD_IN = re.compile(
    r"^(?:(?:well|um|uh|so|yes|yeah|sure|okay|ok|oh)[,.]?\s+)*(?:my (?:full |first |last )?name is|my name's|"
    r"name's|this is|i am|i'm|it is|it's|call me|the answer is|that's|that is|it would be|i'd say)\s+", re.IGNORECASE)
_DTMF = re.compile(r"^\s*dtmf\s*:\s*([0-9*#\s]+)$", re.IGNORECASE)
_NUMERAL = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\w-])")


def normalize(text: str) -> str:
    """Lower case, ``a.m.`` as ``am``, hyphens as spaces, punctuation other than ``' : . / -`` in
    numbers dropped, whitespace collapsed."""
    text = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", text.lower())
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"[^a-z0-9':./\- ]+|(?<!\d)[.:/]|[.:/](?!\d)", " ", text)
    return " ".join(text.split())


def dtmf_digits(text: str) -> Optional[str]:
    """``"DTMF: 1 2"`` -> ``"12"`` (key presses merged into one turn join up); None unless every
    line of the turn is a key press."""
    lines = [line for line in text.splitlines() if line.strip()]
    matches = [_DTMF.match(line) for line in lines]
    if not lines or not all(matches):
        return None
    digits = "".join(re.sub(r"\D", "", match.group(1)) for match in matches if match)
    return digits or None


def yes_no(text: str) -> Optional[bool]:
    """True for yes (yeah, sure, correct, of course...), False for no (nope, no thanks...)."""
    said = normalize(text).replace("no problem", "sure")  # "no problem" agrees
    if any(phrase in said for phrase in _UNSURE):
        return None
    words = set(said.split())
    yes = bool(words & _YES) or any(re.search(rf"\b{p}\b", said) for p in _YES_PHRASES)
    no = bool(words & _NO)
    return None if yes == no else yes


def _run_value(run: list[str]) -> Union[int, float]:
    half = run[-3:] == ["and", "a", "half"]
    run = run[:-3] if half else run
    fraction = ""
    if "point" in run:
        run, after = run[: run.index("point")], run[run.index("point") + 1:]
        fraction = "".join(str(_UNITS[w]) for w in after if _UNITS.get(w, 10) < 10)
    words = [w for w in run if w != "and"]
    if len(words) > 1 and all(_UNITS.get(w, 10) < 10 for w in words):
        whole = int("".join(str(_UNITS[w]) for w in words))  # spoken digits: "four one five"
    else:
        total = current = 0
        for w in words:
            if w in _UNITS or w in _TENS:
                current += _UNITS.get(w, 0) + _TENS.get(w, 0)
            elif w == "a":
                current = 1
            elif w == "hundred":
                current = (current or 1) * 100
            elif w in _SCALES:
                total, current = total + (current or 1) * _SCALES[w], 0
        whole = total + current
    value = whole + (float(f"0.{fraction}") if fraction else 0) + (0.5 if half else 0)
    return value if fraction or half else whole


def number(text: str) -> Optional[Union[int, float]]:
    """The first number said, in digits ("23", "1,200", "3.5") or words ("twenty three",
    "one hundred and five", "three point five", "two and a half")."""
    said = normalize(re.sub(r"(?<=\d),(?=\d{3})", "", text))
    match = _NUMERAL.search(said)
    if match:
        raw = match.group(0).replace(",", "")
        return float(raw) if "." in raw else int(raw)
    tokens = said.split()
    numeric = set(_UNITS) | set(_TENS) | set(_SCALES)
    i = 0
    while i < len(tokens):
        run: list[str] = []
        j = i
        while j < len(tokens):
            word, following = tokens[j], tokens[j + 1] if j + 1 < len(tokens) else ""
            if word in numeric or (word in ("and", "point") and run and following in numeric | {"a"}) \
                    or (word == "a" and following in ("hundred", "thousand", "half")) \
                    or (word == "half" and run[-2:] == ["and", "a"]):
                run.append(word)
                j += 1
            else:
                break
        if run and run != ["oh"] and run != ["a"]:  # a lone "oh" is an exclamation, not zero
            return _run_value(run)
        i = max(j, i + 1)
    return None


def _day_at(tokens: Sequence[str], i: int) -> tuple[Optional[int], int]:
    """A day of the month starting at ``tokens[i]`` and how many tokens it used."""
    if i >= len(tokens):
        return None, 0
    match = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", tokens[i])
    if match:
        return int(match.group(1)), 1
    if " ".join(tokens[i:i + 2]) in _ORDINALS:
        return _ORDINALS[" ".join(tokens[i:i + 2])], 2
    if tokens[i] in _ORDINALS:
        return _ORDINALS[tokens[i]], 1
    if tokens[i] in _TENS and i + 1 < len(tokens) and _UNITS.get(tokens[i + 1], 10) < 10:
        return _TENS[tokens[i]] + _UNITS[tokens[i + 1]], 2
    if tokens[i] in _UNITS or tokens[i] in _TENS:
        return _UNITS.get(tokens[i], 0) + _TENS.get(tokens[i], 0), 1
    return None, 0


def _safe_date(year: int, month: int, day: int) -> Optional[dt.date]:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_day(tokens: list[str], today: dt.date) -> Optional[dt.date]:
    for i, word in enumerate(tokens):
        if word not in _MONTHS or (word == "may" and i + 1 < len(tokens) and tokens[i + 1] in ("i", "be", "we")):
            continue
        day, used = _day_at(tokens, i + 1 + (tokens[i + 1:i + 2] == ["the"]))
        after = i + 1 + (tokens[i + 1:i + 2] == ["the"]) + used
        if day is None:  # "the third of march"
            day, _ = _day_at(tokens, i - 2) if i >= 2 and tokens[i - 1] == "of" else (None, 0)
            after = i + 1
        if day is None:
            continue
        year = next((int(t) for t in tokens[after:after + 2] if re.fullmatch(r"\d{4}", t)), None)
        found = _safe_date(year or today.year, _MONTHS[word], day)
        if found and year is None and found < today:
            found = _safe_date(today.year + 1, _MONTHS[word], day)
        return found
    return None


def date(text: str, today: dt.date) -> Optional[dt.date]:
    """A date: ISO or US numerals, today/tomorrow/the day after tomorrow, "in three days",
    weekdays (the coming one, never today), "march third", "the 3rd of march", "the 25th"."""
    said = normalize(text)
    tokens = said.split()
    match = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", said)
    if match:
        return _safe_date(*(int(g) for g in match.groups()))
    match = re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", said)
    if match:
        year = int(match.group(3) or today.year)
        return _safe_date(year + 2000 if year < 100 else year, int(match.group(1)), int(match.group(2)))
    for phrase, offset in (("day after tomorrow", 2), ("tomorrow", 1), ("today", 0), ("tonight", 0),
                           ("yesterday", -1), ("next week", 7)):
        if phrase in said:
            return today + dt.timedelta(days=offset)
    match = re.search(r"\bin (.+?) (day|days|week|weeks)\b", said)
    if match and number(match.group(1)) is not None:
        count = int(number(match.group(1)) or 0)
        return today + dt.timedelta(days=count * (7 if match.group(2).startswith("week") else 1))
    found = _month_day(tokens, today)
    if found:
        return found
    for i, word in enumerate(_WEEKDAYS):
        if word in tokens:
            return today + dt.timedelta(days=(i - today.weekday()) % 7 or 7)
    if "the" in tokens:
        day, _ = _day_at(tokens, tokens.index("the") + 1)
        if day:
            found = _safe_date(today.year, today.month, day)
            if found is None or found < today:
                month = today.month % 12 + 1
                found = _safe_date(today.year + (month == 1), month, day)
            return found
    return None


def time_of_day(text: str) -> Optional[dt.time]:
    """A clock time: "3 pm", "10:30", "at three thirty", "noon"; a bare hour before 8 is pm."""
    said = normalize(text)
    if "noon" in said or "midday" in said:
        return dt.time(12, 0)
    if "midnight" in said:
        return dt.time(0, 0)
    match = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b(?!\s*(?:st|nd|rd|th|/|-))", said.split(" at ", 1)[-1])
    tokens = said.split()
    hour = minute = None
    if match and (match.group(2) or match.group(3) or " at " in f" {said} "):
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
    elif "at" in tokens:
        rest = tokens[tokens.index("at") + 1:]
        if rest and rest[0] in _UNITS and 0 < _UNITS[rest[0]] <= 12:
            hour, minute = _UNITS[rest[0]], number(" ".join(rest[1:3])) if len(rest) > 1 else 0
            minute = int(minute) if isinstance(minute, (int, float)) and 0 <= minute < 60 else 0
    if hour is None or hour > 23:
        return None
    if "pm" in tokens or any(w in said for w in ("afternoon", "evening", "tonight", "at night")):
        hour = hour + 12 if hour < 12 else hour
    elif "am" in tokens or "morning" in said:
        hour = 0 if hour == 12 else hour
    elif hour < AFTERNOON_BEFORE_HOUR:
        hour += 12
    return dt.time(hour, minute or 0)


def choice(text: str, options: Sequence[str]) -> Optional[str]:
    """The option named in the answer: exactly, by position ("the second one"), or fuzzily."""
    said = normalize(text)
    spoken = {option: " ".join(normalize(option.replace("_", " ")).split()) for option in options}
    for option in sorted(options, key=lambda o: -len(spoken[o])):
        if spoken[option] and re.search(rf"\b{re.escape(spoken[option])}\b", said):
            return option
    for word, position in _ORDINALS.items():
        if position <= len(options) and re.search(rf"\b(the )?{word}( one| option)?\b", said) and \
                len(said.split()) <= 3:
            return options[position - 1]
    best, best_score = None, CHOICE_CUTOFF
    words = said.split()
    for option in options:
        size = max(1, len(spoken[option].split()))
        for i in range(max(1, len(words) - size + 1)):
            score = difflib.SequenceMatcher(None, " ".join(words[i:i + size]), spoken[option]).ratio()
            if score >= best_score:
                best, best_score = option, score
    return best


def free_text(text: str, *, is_name: bool = False) -> Optional[str]:
    """The answer without its lead-in ("my name is", "it's"); names title-cased."""
    answer = _LEAD_IN.sub("", text.strip()).strip(" .,!?")
    answer = re.sub(r"[,.]?\s*(?:thanks|thank you|please)$", "", answer, flags=re.IGNORECASE).strip(" .,!?")
    said = normalize(answer)
    if not said or said in _NOT_ANSWERS or any(phrase in said for phrase in _UNSURE):
        return None
    if is_name:
        return " ".join(w[:1].upper() + w[1:] if w.islower() else w for w in answer.split())
    return answer


# -- fields and their questions -----------------------------------------------------------------

_NAME_PREFIXES = ("caller_", "customer_", "contact_", "client_", "user_", "guest_", "patient_")
_PREPOSITIONS = ("to", "on", "for", "at", "by")
FieldKind = str  # string | boolean | integer | number | date | datetime | enum


@dataclass(frozen=True)
class Field:
    """One ``returns`` field in the form the dialogue asks about."""

    name: str
    kind: FieldKind  # string | boolean | integer | number | date | datetime | enum
    options: tuple[str, ...] = ()


def field_from_schema(name: str, spec: Mapping[str, Any]) -> Field:
    """The :class:`Field` of one JSON Schema property (``enum``, ``type``, ``format``)."""
    if isinstance(spec.get("enum"), list):
        return Field(name, "enum", tuple(str(v) for v in spec["enum"] if v is not None))
    types = spec.get("type", "string")
    kind = next((t for t in ([types] if isinstance(types, str) else types) if t != "null"), "string")
    if kind == "string" and spec.get("format") in ("date", "date-time"):
        kind = "date" if spec["format"] == "date" else "datetime"
    return Field(name, kind if kind in ("boolean", "integer", "number", "date", "datetime") else "string")


def fields_of(returns: Optional[Mapping[str, Any]]) -> list[Field]:
    """The fields of a ``returns`` schema, shorthand or full JSON Schema, in declaration order."""
    if not returns:
        return []
    if returns.get("type") == "object" and isinstance(returns.get("properties"), dict):
        return [field_from_schema(name, spec) for name, spec in returns["properties"].items()]
    return [Field(name, "enum", tuple(kind)) if isinstance(kind, list) else Field(name, str(kind))
            for name, kind in returns.items()]


def words(name: str) -> str:
    """An identifier as spoken words: ``rescheduleTo`` / ``reschedule_to`` -> ``reschedule to``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower().strip()


def question(f: Field) -> str:
    """The natural-English question for a field, derived from its name and kind."""
    name = f.name.lower()
    spoken = words(f.name)
    if f.kind == "enum":
        listed = ", ".join(words(o) for o in f.options[:-1]) + f" or {words(f.options[-1])}"
        return f"Which best describes the {spoken}: {listed if len(f.options) > 1 else words(f.options[0])}?"
    if f.kind == "boolean":
        if name == "confirmed" or name.endswith("_confirmed"):
            subject = words(name[: -len("confirmed")]) or "that"
            return f"Is {'the ' + subject if subject != 'that' else subject} confirmed?"
        for prefix, verb in (("is_", "Is it"), ("has_", "Do you have"), ("wants_", "Do you want"),
                             ("needs_", "Do you need"), ("can_", "Can you"), ("will_", "Will you")):
            if name.startswith(prefix):
                return f"{verb} {words(name[len(prefix):])}?"
        return f"Regarding {spoken}, is that a yes or a no?"
    if f.kind in ("date", "datetime"):
        what = "date" if f.kind == "date" else "date and time"
        *head, last = spoken.split()
        if head and last in _PREPOSITIONS:
            return f"What {what} would you like to {' '.join(head)} {last}?"
        subject = re.sub(r"\s*\b(date|time|datetime|day)$", "", spoken) or "that"
        return f"What {what} is the {subject}?"
    if name == "name" or name.endswith("_name"):
        for prefix in _NAME_PREFIXES:
            name = name.removeprefix(prefix)
        return f"Could you tell me your {words(name)}?"
    match = re.match(r"^(?:number_of|num|count_of)_(.+)$", name) or re.match(r"^(.+)_count$", name)
    if match and f.kind in ("integer", "number"):
        return f"How many {words(match.group(1))}?"
    return f"What is the {spoken}?"


def question_for(name: str, spec: Mapping[str, Any]) -> str:
    """The question asked for JSON Schema property ``name`` (``spec`` its schema)."""
    return question(field_from_schema(name, spec))


def _is_name(f: Field) -> bool:
    return f.name.lower() == "name" or f.name.lower().endswith("_name")


def parse_answer(f: Field, text: str, today: dt.date) -> Any:
    """The typed value of an answer to ``f``, or None when it does not parse.

    Dates come back as ISO ``YYYY-MM-DD``; date-times as naive ISO ``YYYY-MM-DDTHH:MM:SS`` (the
    caller's wall-clock time), booleans as ``bool``, enums as one of the options exactly.
    """
    keys = dtmf_digits(text)
    if f.kind == "boolean":
        return {"1": True, "2": False}.get(keys) if keys else yes_no(text)
    if f.kind in ("integer", "number"):
        value = int(keys) if keys else number(text)
        if f.kind == "integer" and value is not None:
            return int(value) if float(value).is_integer() else None
        return value
    if f.kind == "date":
        found = date(text, today)
        return found.isoformat() if found else None
    if f.kind == "datetime":
        found = date(text, today)
        at = time_of_day(text)
        return dt.datetime.combine(found, at).isoformat() if found and at else None
    if f.kind == "enum":
        if keys and 1 <= int(keys) <= len(f.options):
            return f.options[int(keys) - 1]
        return choice(text, f.options)
    if keys:
        return keys
    return free_text(text, is_name=_is_name(f))
