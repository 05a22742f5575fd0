"""Model text -> speakable chunks, so the first words are synthesized while the model still writes.

The rule (:class:`SentenceChunker`):

1. A **sentence** ends at ``.``, ``!``, ``?`` or ``…`` (repeats and closing quotes or brackets
   included) followed by whitespace — except after a known abbreviation (``Dr.``, ``e.g.``,
   ``a.m.``…) or a single capital initial (``J.``). ``3.5`` and ``$1,000`` never split: the mark must
   be followed by whitespace.
2. A **clause** ends at ``,``, ``;``, ``:``, ``—``, ``–`` or a spaced hyphen followed by whitespace.
   The *first* chunk of an utterance ends at its first sentence or clause boundary however short
   ("Sure," goes out alone: the caller hears something while the model writes on). Later chunks
   end at a clause only once they hold :data:`MIN_CLAUSE_WORDS` words, because they are synthesized
   while earlier audio plays and very short fragments sound choppy.
3. A **newline** ends a chunk.
4. A chunk that reaches :data:`MAX_CHUNK_CHARS` without a boundary is cut at its last space.
5. :meth:`SentenceChunker.flush` returns what is left when the model's text ends.

Chunks come out stripped, with markdown emphasis and heading marks removed; empty chunks are never
returned. A sentence mark at the very end of the text so far waits for the next delta (or the
flush), since only the following character tells a sentence end from ``3.5``; a clause mark right
after a letter (``Sure,``) cannot be part of a number and ends an eligible chunk at once.
"""

from __future__ import annotations

import re
from typing import Optional

from ..frames import Frame, InterruptionFrame, LlmTextFrame, TextEndFrame, TtsTextFrame, Utterance
from ..pipeline import Direction, Processor

__all__ = ["SentenceChunker", "SentenceChunkerProcessor", "MIN_CLAUSE_WORDS", "MAX_CHUNK_CHARS"]

MIN_CLAUSE_WORDS = 4
MAX_CHUNK_CHARS = 200

_SENTENCE_END = ".!?…"
_CLAUSE_END = ",;:—–"
_CLOSERS = "\"')]”’»"
# Clause marks that end a chunk at once when they close a word ("Sure,"): after a letter they can
# be neither a decimal nor a thousands separator, so the next character need not be awaited.
_EAGER = ",;:"
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "e.g", "i.e", "a.m", "p.m",
    "approx", "appt", "dept", "est", "no",
})
_MARKUP = re.compile(r"[*#`_~]+")
_SPACES = re.compile(r"\s+")


def _clean(chunk: str) -> str:
    text = _SPACES.sub(" ", _MARKUP.sub("", chunk)).strip()
    return text[2:] if text.startswith("- ") else text


class SentenceChunker:
    """Splits streamed text into speakable chunks; one instance per utterance (or :meth:`reset`)."""

    def __init__(self) -> None:
        self._buffer = ""
        self._scan = 0
        self.emitted = 0

    def reset(self) -> None:
        """Forget everything (a new utterance, or the old one was interrupted)."""
        self._buffer, self._scan, self.emitted = "", 0, 0

    def feed(self, text: str) -> list[str]:
        """Add model text; return the chunks it completes, in order."""
        self._buffer += text
        chunks: list[str] = []
        while (cut := self._find_cut()) is not None:
            piece, self._buffer, self._scan = self._buffer[:cut], self._buffer[cut:], 0
            self._emit(piece, chunks)
        return chunks

    def flush(self) -> list[str]:
        """The rest of the text, as a last chunk (the model's text ended)."""
        chunks: list[str] = []
        self._emit(self._buffer, chunks)
        self._buffer, self._scan = "", 0
        return chunks

    def _emit(self, piece: str, chunks: list[str]) -> None:
        cleaned = _clean(piece)
        if cleaned:
            chunks.append(cleaned)
            self.emitted += 1

    def _find_cut(self) -> Optional[int]:
        buffer, size = self._buffer, len(self._buffer)
        i = self._scan
        while i < size:
            char = buffer[i]
            if char == "\n":
                if buffer[:i].strip():
                    return i + 1
            elif char in _SENTENCE_END or char in _CLAUSE_END or (char == "-" and i > 0 and buffer[i - 1] == " "):
                end = i + 1
                while end < size and (buffer[end] in _SENTENCE_END or buffer[end] in _CLOSERS):
                    end += 1
                if end >= size:
                    if char in _EAGER and end == i + 1 and buffer[i - 1:i].isalpha() and self._clause_ok(buffer, end):
                        return end  # "Sure," cannot be a number: no need to wait for the next character
                    self._scan = i  # the next character decides ("3." may become "3.5")
                    return None
                if buffer[end].isspace():
                    if char in _SENTENCE_END:
                        if not self._after_abbreviation(buffer, i):
                            return end
                    elif self._clause_ok(buffer, end):
                        return end
                i = end
                continue
            i += 1
        self._scan = size
        if size >= MAX_CHUNK_CHARS:
            space = buffer.rfind(" ", 0, MAX_CHUNK_CHARS)
            return space + 1 if space > 0 else MAX_CHUNK_CHARS
        return None

    def _clause_ok(self, buffer: str, end: int) -> bool:
        return self.emitted == 0 or len(buffer[:end].split()) >= MIN_CLAUSE_WORDS

    @staticmethod
    def _after_abbreviation(buffer: str, index: int) -> bool:
        start = index
        while start > 0 and not buffer[start - 1].isspace():
            start -= 1
        token = buffer[start:index].lstrip("(\"'“‘")
        if len(token) == 1 and token.isupper() and token != "I":
            return True  # an initial: "J. Smith"
        return token.lower() in _ABBREVIATIONS


class SentenceChunkerProcessor(Processor):
    """:class:`LlmTextFrame` s in, :class:`TtsTextFrame` s out (recorded on the utterance as they go)."""

    def __init__(self) -> None:
        super().__init__(name="SentenceChunker")
        self._chunker = SentenceChunker()
        self._utterance: Optional[Utterance] = None

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, LlmTextFrame):
            self._switch(frame.utterance)
            for chunk in self._chunker.feed(frame.text):
                await self._push_chunk(frame.utterance, chunk, frame.round)
            return
        if isinstance(frame, TextEndFrame):
            self._switch(frame.utterance)
            for chunk in self._chunker.flush():
                await self._push_chunk(frame.utterance, chunk, frame.round)
            return
        if isinstance(frame, InterruptionFrame):
            self._chunker.reset()
            self._utterance = None
        await self.push(frame, direction)

    def _switch(self, utterance: Utterance) -> None:
        if utterance is not self._utterance:
            self._chunker.reset()
            self._utterance = utterance

    async def _push_chunk(self, utterance: Utterance, chunk: str, round_: int) -> None:
        if utterance.cancelled:
            return
        utterance.chunks.append(chunk)
        utterance.chunk_rounds.append(round_)
        await self.push(TtsTextFrame(utterance, len(utterance.chunks) - 1, chunk))
