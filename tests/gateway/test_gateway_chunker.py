"""The sentence chunker's rule: what goes to speech synthesis, and when."""

from __future__ import annotations

import pytest

from streaming_fargate.processors.sentence_chunker import MAX_CHUNK_CHARS, SentenceChunker


def stream(*pieces: str) -> list[list[str]]:
    """Feed ``pieces`` one by one; the chunks each one released, then the flush's."""
    chunker = SentenceChunker()
    return [chunker.feed(piece) for piece in pieces] + [chunker.flush()]


def test_the_first_chunk_goes_out_at_its_first_clause_while_the_model_still_writes() -> None:
    # GIVEN the model's words as they stream
    released = stream("Sure,", " I", " can", " help", " with", " that.", " What", " time?")
    # THEN "Sure," is released the moment it arrives (a comma after a letter is no thousands separator)
    assert released[0] == ["Sure,"]
    # ... and a sentence end waits for the next character, which tells it from "3.5"
    assert released[5] == [] and released[6] == ["I can help with that."]
    assert [chunk for step in released for chunk in step] == ["Sure,", "I can help with that.", "What time?"]


def test_later_chunks_end_at_a_clause_only_once_they_are_long_enough() -> None:
    chunks = [c for step in stream("Yes. Well, no, I mean that we can, of course, move it to Monday; ok?") for c in step]
    # "Well," and "no," are too short to stand alone after the first chunk; the long clause is cut
    assert chunks == ["Yes.", "Well, no, I mean that we can,", "of course, move it to Monday;", "ok?"]


@pytest.mark.parametrize("text", [
    "It costs 3.50 dollars today.",
    "That is $1,000 in total.",
    "Dr. Smith will call you at 10 a.m. tomorrow.",
    "Ask for J. Smith at the desk.",
    "See you at 5:30 tonight.",
])
def test_numbers_abbreviations_and_initials_do_not_end_a_sentence(text: str) -> None:
    chunker = SentenceChunker()
    chunker.emitted = 1  # not the first chunk: only sentence ends (and long clauses) cut
    assert chunker.feed(text) == [] and chunker.flush() == [text]


def test_marks_at_the_end_of_the_text_so_far_wait_for_the_next_character() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("It costs 3.") == []  # could be "3.50"
    assert chunker.feed("50 now. Then 1,") == ["It costs 3.50 now."]
    assert chunker.feed("000 more") == []  # "1," was a thousands separator
    assert chunker.flush() == ["Then 1,000 more"]


def test_repeated_marks_quotes_and_newlines() -> None:
    chunks = [c for step in stream('He said "really?!" Then\nnew line.') for c in step]
    assert chunks == ['He said "really?!"', "Then", "new line."]


def test_markdown_is_not_spoken_and_empty_chunks_never_leave() -> None:
    chunks = [c for step in stream("**Great**! \n\n- first item.\n### Done") for c in step]
    assert chunks == ["Great!", "first item.", "Done"]


def test_a_chunk_without_any_boundary_is_cut_at_a_space_before_the_maximum() -> None:
    words = " ".join(["word"] * 80)  # 399 characters, no punctuation
    chunker = SentenceChunker()
    first = chunker.feed(words)
    assert first and all(len(chunk) <= MAX_CHUNK_CHARS for chunk in first)
    assert " ".join(first + chunker.flush()) == words
