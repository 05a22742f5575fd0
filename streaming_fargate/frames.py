"""The typed frames that flow between the processors of one call, and what barge-in does to each.

    Frame
    ├── SystemFrame          handled the moment it arrives (it skips every queue); never dropped
    │   caller input:        CallerAudioFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame,
    │                        TranscriptFrame, BackchannelFrame, UserTurnFrame, DtmfFrame, MarkEchoFrame
    │   the barge-in itself: InterruptionFrame
    │   upstream reports:    BotStartedSpeakingFrame, BotStoppedSpeakingFrame, SpokenFrame,
    │                        TurnCommittedFrame
    ├── DataFrame            in order; dropped by an interruption
    │                        LlmTextFrame, TtsTextFrame, TtsAudioFrame
    └── ControlFrame         in order; dropped by an interruption unless also UninterruptibleFrame
                             TextEndFrame, TtsChunkEndFrame, UtteranceEndFrame, SpeakFrame,
                             EndCallFrame (uninterruptible)

Timestamps (``at``) are ``time.monotonic()`` seconds; ``offset_ms`` values count from the start
of the stream. Frames are plain slotted dataclasses: a call moves about 100 of them a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterable, Literal, Optional

__all__ = [
    "Frame",
    "SystemFrame",
    "DataFrame",
    "ControlFrame",
    "UninterruptibleFrame",
    "Utterance",
    "UtteranceKind",
    "TurnTimings",
    "CallerAudioFrame",
    "UserStartedSpeakingFrame",
    "UserStoppedSpeakingFrame",
    "TranscriptFrame",
    "BackchannelFrame",
    "UserTurnFrame",
    "DtmfFrame",
    "MarkEchoFrame",
    "InterruptionFrame",
    "BotStartedSpeakingFrame",
    "BotStoppedSpeakingFrame",
    "SpokenFrame",
    "TurnCommittedFrame",
    "LlmTextFrame",
    "TextEndFrame",
    "TtsTextFrame",
    "TtsAudioFrame",
    "TtsChunkEndFrame",
    "UtteranceEndFrame",
    "SpeakFrame",
    "EndCallFrame",
]

UtteranceKind = Literal["reply", "greeting", "reprompt", "goodbye", "voicemail"]


# -- what the agent says --------------------------------------------------------------------------


@dataclass(eq=False)
class TurnTimings:
    """Where one turn's time went (monotonic seconds); written to the call's ``latency`` list."""

    turn: int
    speech_ended_at: float
    """Arrival of the caller's last voiced frame."""
    endpoint_at: Optional[float] = None
    """When our endpointing decided the turn was over."""
    stt_final_at: Optional[float] = None
    """When the recogniser's final result arrived (often after we stopped waiting for it)."""
    llm_request_at: Optional[float] = None
    """When the model was asked (before ``endpoint_at`` when it started early on a stable partial)."""
    llm_first_token_at: Optional[float] = None
    tts_first_byte_at: Optional[float] = None
    first_audio_at: Optional[float] = None
    """When the first ``media`` message of the reply went out."""

    def entry(self, origin: float) -> dict[str, Any]:
        """The ``latency`` list entry: each stage in ms after the end of the caller's speech."""

        def since(moment: Optional[float]) -> Optional[int]:
            return None if moment is None else round((moment - self.speech_ended_at) * 1000)

        return {
            "turn": self.turn,
            "at_ms": max(0, round((self.speech_ended_at - origin) * 1000)),
            "end_of_speech_ms": since(self.endpoint_at),
            "stt_final_ms": since(self.stt_final_at),
            "llm_request_ms": since(self.llm_request_at),
            "llm_first_token_ms": since(self.llm_first_token_at),
            "tts_first_byte_ms": since(self.tts_first_byte_at),
            "first_audio_ms": since(self.first_audio_at),
        }


@dataclass(eq=False)
class Utterance:
    """One thing the agent says (a model reply, the greeting, a re-prompt, a goodbye).

    Shared by reference between the frames of the utterance: the chunker appends its chunks, and
    ``cancelled`` (set by barge-in, or when the caller kept talking) makes every later stage drop
    the utterance's frames wherever they are, so no audio of it leaves after a ``clear``.
    """

    id: int
    kind: UtteranceKind
    turn: Optional[int] = None
    timings: Optional[TurnTimings] = None
    chunks: list[str] = field(default_factory=list)
    chunk_rounds: list[int] = field(default_factory=list)
    cancelled: bool = False

    @property
    def text(self) -> str:
        """Everything the utterance says, chunk by chunk."""
        return " ".join(self.chunks)


# -- the hierarchy --------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Frame:
    """Anything that moves between processors."""


@dataclass(eq=False, slots=True)
class SystemFrame(Frame):
    """Handled the moment it arrives, ahead of queued frames. Barge-in never drops it."""


@dataclass(eq=False, slots=True)
class DataFrame(Frame):
    """Content, processed in order. Barge-in drops it wherever it waits."""


@dataclass(eq=False, slots=True)
class ControlFrame(Frame):
    """A marker processed in order with the data. Barge-in drops it unless it is uninterruptible."""


class UninterruptibleFrame:
    """Mixin: a queued frame that survives barge-in (kept when the queue around it is flushed)."""

    __slots__ = ()


# -- caller input (system) ------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class CallerAudioFrame(SystemFrame):
    """20 ms of the caller's audio, decoded once at the edge, with its energy.

    Barge-in: never dropped; this is the frame barge-in is detected from.
    """

    pcm: bytes
    rms: int
    at: float
    offset_ms: int


@dataclass(eq=False, slots=True)
class UserStartedSpeakingFrame(SystemFrame):
    """The voice-activity detector heard the caller start (``at`` is the first voiced frame).

    Barge-in: never dropped.
    """

    at: float
    offset_ms: int


@dataclass(eq=False, slots=True)
class UserStoppedSpeakingFrame(SystemFrame):
    """The caller paused; ``last_voice_at`` is the arrival of the last voiced frame.

    Barge-in: never dropped.
    """

    at: float
    last_voice_at: float
    offset_ms: int


@dataclass(eq=False, slots=True)
class TranscriptFrame(SystemFrame):
    """A recogniser hypothesis; offsets are on the stream's clock (call start = 0).

    Barge-in: never dropped (endpointing holds it while the agent speaks, then keeps or discards it).
    """

    text: str
    is_final: bool
    stable: bool
    start_ms: int
    end_ms: int
    at: float


@dataclass(eq=False, slots=True)
class BackchannelFrame(SystemFrame):
    """Caller speech over the agent that stayed below the interruption threshold ("uh-huh").

    Endpointing discards transcripts inside ``[start_ms, end_ms]``. Barge-in: never dropped.
    """

    start_ms: int
    end_ms: int


@dataclass(eq=False, slots=True)
class UserTurnFrame(SystemFrame):
    """The caller's turn: ``speculative`` on a stable partial (the model may start, nothing may be
    said or done yet), then confirmed once the trailing silence has passed.

    Barge-in: never dropped.
    """

    turn: int
    text: str
    speculative: bool
    started_offset_ms: int
    ended_offset_ms: int
    timings: TurnTimings


@dataclass(eq=False, slots=True)
class DtmfFrame(SystemFrame):
    """A key the caller pressed; it reaches the model as text (``DTMF: 5``).

    Barge-in: never dropped (a key press over the agent interrupts it).
    """

    digit: str
    at: float
    offset_ms: int


@dataclass(eq=False, slots=True)
class MarkEchoFrame(SystemFrame):
    """Twilio echoed a mark: everything sent before it has played.

    Barge-in: never dropped (after a ``clear`` Twilio echoes the pending marks at once).
    """

    name: str
    at: float


@dataclass(eq=False, slots=True)
class InterruptionFrame(SystemFrame):
    """Barge-in: every stage below cancels its work in flight and drops its queued data and control
    frames; playout sends ``clear`` and records what the caller actually heard.
    """

    at: float
    reason: str = "barge_in"


@dataclass(eq=False, slots=True)
class BotStartedSpeakingFrame(SystemFrame):
    """Upstream: the first audio of ``utterance`` went out. Barge-in: never dropped."""

    utterance: Utterance
    at: float


@dataclass(eq=False, slots=True)
class BotStoppedSpeakingFrame(SystemFrame):
    """Upstream: the caller has heard everything sent (or it was cleared). Barge-in: never dropped."""

    at: float


@dataclass(eq=False, slots=True)
class SpokenFrame(SystemFrame):
    """Upstream: what the caller heard of ``utterance``, chunk by chunk (the last possibly cut).

    ``interrupted`` when a barge-in cut it. Barge-in: never dropped (barge-in produces it).
    """

    utterance: Utterance
    heard: list[str]
    interrupted: bool


@dataclass(eq=False, slots=True)
class TurnCommittedFrame(SystemFrame):
    """Upstream: the reply to caller turn ``turn`` became audible (or finished silently), so the
    turn can no longer grow. Barge-in: never dropped.
    """

    turn: int


# -- the agent's side (data and control) ----------------------------------------------------------


@dataclass(eq=False, slots=True)
class LlmTextFrame(DataFrame):
    """Model text, as streamed, for one round of ``utterance``. Barge-in: dropped."""

    utterance: Utterance
    text: str
    round: int = 0


@dataclass(eq=False, slots=True)
class TextEndFrame(ControlFrame):
    """A model round's text is complete: the chunker flushes what it holds. Barge-in: dropped."""

    utterance: Utterance
    round: int = 0


@dataclass(eq=False, slots=True)
class TtsTextFrame(DataFrame):
    """One speakable chunk; ``audio`` is pre-synthesized speech (the cached greeting) when present.

    Barge-in: dropped; its synthesis in flight is cancelled.
    """

    utterance: Utterance
    index: int
    text: str
    audio: Optional[AsyncIterable[bytes]] = None


@dataclass(eq=False, slots=True)
class TtsAudioFrame(DataFrame):
    """μ-law 8 kHz audio of chunk ``index``, any length. Barge-in: dropped, never sent after ``clear``."""

    utterance: Utterance
    index: int
    audio: bytes


@dataclass(eq=False, slots=True)
class TtsChunkEndFrame(ControlFrame):
    """All audio of chunk ``index`` was produced: playout pads the last frame and sends a ``mark``.

    Barge-in: dropped.
    """

    utterance: Utterance
    index: int


@dataclass(eq=False, slots=True)
class UtteranceEndFrame(ControlFrame):
    """Every chunk of ``utterance`` has been emitted (its text is complete). Barge-in: dropped."""

    utterance: Utterance


@dataclass(eq=False, slots=True)
class SpeakFrame(ControlFrame):
    """Say a fixed text (greeting, re-prompt, goodbye), with pre-synthesized ``audio`` if cached.

    Barge-in: dropped if still queued.
    """

    text: str
    kind: Literal["greeting", "reprompt", "goodbye"]
    audio: Optional[AsyncIterable[bytes]] = None


@dataclass(eq=False, slots=True)
class EndCallFrame(UninterruptibleFrame, ControlFrame):
    """Hang up with ``reason`` once everything queued before it has been heard (at once when
    ``after_speech`` is False). With ``transfer_to`` (an E.164 number) the call is handed over to
    that number instead (``transfer_call``): the transfer is recorded, then the stream closes.

    Barge-in: kept. Interrupting the goodbye cuts the audio, not the hang-up.
    """

    reason: str
    after_speech: bool = True
    transfer_to: Optional[str] = None
