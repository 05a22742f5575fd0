"""The recognition grammar the local recognizer uses when a session has hints.

What callers answer an agent that collects ``returns`` fields: the hints themselves (enum options,
a name from the call's context), yes/no, numbers, dates, digit strings after "my number is", each
after an optional lead-in ("it's", "I think") and before an optional "please"/"thanks".
Constraining the search this much is what makes narrowband, synthetic speech recognizable with
the wideband model pocketsphinx ships (see :mod:`.local_stt`).
"""

from __future__ import annotations

import re
from typing import Callable

__all__ = ["build_grammar"]

_YES_NO = ("yes", "yeah", "sure", "correct", "that's right", "of course", "absolutely", "okay",
           "no", "nope", "no thanks", "not really")
_LEADS = ("it is", "it's", "that's", "i think", "i'd say", "the answer is", "make it", "i want")
# A name lead-in is only followed by a hint: after "my name is" a digit string is never the answer,
# and without this the decoder hears "smith" as "two eight".
_NAME_LEADS = ("my name is", "this is", "i'm", "call me")
_RULES = """<tail> = please | thanks | thank you;
<nonzero> = one | two | three | four | five | six | seven | eight | nine;
<digit> = zero | oh | <nonzero>;
<teen> = ten | eleven | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen;
<tens> = twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety;
<below100> = zero | <nonzero> | <teen> | <tens> [<nonzero>];
<number> = <below100> | <nonzero> hundred [and] [<below100>] | <below100> point <digit>+ | <below100> thousand;
<digits> = <digit> <digit> <digit> <digit>+;
<weekday> = monday | tuesday | wednesday | thursday | friday | saturday | sunday;
<month> = january | february | march | april | may | june | july | august | september | october | november | december;
<ordinal> = first | second | third | fourth | fifth | sixth | seventh | eighth | ninth | tenth | eleventh | twelfth
  | thirteenth | fourteenth | fifteenth | sixteenth | seventeenth | eighteenth | nineteenth | twentieth | thirtieth
  | twenty (first | second | third | fourth | fifth | sixth | seventh | eighth | ninth) | thirty first;
<date> = today | tomorrow | the day after tomorrow | [next | this] <weekday> | <month> <ordinal> | the <ordinal> [of <month>];
"""
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def build_grammar(hints: tuple[str, ...], known: Callable[[str], bool]) -> str:
    """A JSGF grammar: [lead-in] (hint | yes/no | number | date) [please/thanks], a name lead-in
    ("my name is") and a hint, or "my number is" and a digit string.

    ``known`` says whether a word is in the pronunciation dictionary; unknown words are dropped.
    """
    phrases: list[str] = []
    for hint in hints:
        words = [w for w in _WORD.findall(hint.lower()) if known(w)]
        phrase = " ".join(words)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    answers = (["<hint>"] if phrases else []) + ["<yes_no>", "<number>", "<date>"]
    utterances = [f"[<lead>] ({' | '.join(answers)}) [<tail>]", "my number is <digits> [<tail>]"]
    if phrases:
        utterances.append(f"({' | '.join(_NAME_LEADS)}) <hint> [<tail>]")
    lines = ["#JSGF V1.0;", "grammar hints;", f"public <utterance> = {' | '.join(utterances)};",
             f"<lead> = {' | '.join(_LEADS)};", f"<yes_no> = {' | '.join(_YES_NO)};"]
    if phrases:
        lines.append(f"<hint> = {' | '.join(phrases)};")
    return "\n".join(lines) + "\n" + _RULES
