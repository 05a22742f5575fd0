"""Call recordings: one two-channel WAV per call in the recordings bucket, handed out as short-lived
presigned URLs.

The file is 8 kHz, 16-bit PCM, two channels: the caller on the left, the agent on the right. The
voice gateway keeps both sides as μ-law timelines already aligned to the call's clock (silence
where a side said nothing) and calls :func:`write_recording` once when the call ends; the
returned key is then stored on the call (:func:`callingbox.core.store.calls.set_recording_key`),
and ``GET /v1/calls/{id}`` turns it into ``recording_url`` with :func:`presign_recording`.

Limitations:
    ``record: false`` is the caller's business: this module records whatever it is given. The
    gateway must read the call's ``agent_snapshot["record"]`` and, when it is false, neither keep
    the audio nor call :func:`write_recording`.

    The whole recording is built in memory (4 bytes per 8 kHz sample pair: about 115 MB for an
    hour), which the agent's ``max_duration_seconds`` bounds.
"""

from __future__ import annotations

import io
import sys
from array import array
from typing import Any

__all__ = ["RECORDING_URL_TTL_S", "CHANNELS", "SAMPLE_WIDTH", "recording_key", "encode_wav", "write_recording",
           "presign_recording"]

# recording_url is a bearer credential to the audio: short enough that a leaked API response
# stops working soon, long enough to start a download or a player right after reading the call.
RECORDING_URL_TTL_S = 15 * 60
CHANNELS = 2  # left: caller, right: agent
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
CONTENT_TYPE = "audio/wav"


def recording_key(workspace_id: str, call_id: str) -> str:
    """The object key of a call's recording."""
    return f"recordings/{workspace_id}/{call_id}.wav"


def _stereo_pcm16(caller_ulaw: bytes, agent_ulaw: bytes) -> bytes:
    """Interleaved little-endian 16-bit frames (caller, agent), the shorter side padded with silence."""
    from .media.mulaw import SILENCE_BYTE, ulaw_to_pcm16

    length = max(len(caller_ulaw), len(agent_ulaw))
    caller = ulaw_to_pcm16(bytes(caller_ulaw).ljust(length, SILENCE_BYTE))
    agent = ulaw_to_pcm16(bytes(agent_ulaw).ljust(length, SILENCE_BYTE))
    # Extended-slice assignment on arrays interleaves in C; no per-sample Python loop.
    frames = array("h", bytes(2 * len(caller)))
    frames[0::2] = array("h", caller)
    frames[1::2] = array("h", agent)
    if sys.byteorder == "big":  # audioop and array are native-endian; WAV is little-endian
        frames.byteswap()
    return frames.tobytes()


def encode_wav(caller_ulaw: bytes, agent_ulaw: bytes) -> bytes:
    """The two-channel 8 kHz 16-bit WAV file of the two μ-law timelines."""
    import wave

    from .media.mulaw import SAMPLE_RATE

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(_stereo_pcm16(caller_ulaw, agent_ulaw))
    return buffer.getvalue()


def write_recording(s3_client: Any, bucket: str, workspace_id: str, call_id: str, caller_ulaw: bytes,
                    agent_ulaw: bytes) -> str:
    """Write the call's recording to ``bucket`` and return its key (``recordings/<ws>/<call id>.wav``).

    Parameters:
        s3_client: a boto3/botocore S3 client.
        caller_ulaw, agent_ulaw: each side's μ-law audio at 8 kHz, aligned so that byte ``i`` of
            both is the same instant; the shorter is padded with silence at the end.

    Examples:
        key = write_recording(s3, settings.recordings_bucket, ws, call_id, caller, agent)
        call_store.set_recording_key(ws, call_id, key)

    Writing again replaces the object (the key is the call's), so a retry is harmless.
    """
    key = recording_key(workspace_id, call_id)
    s3_client.put_object(Bucket=bucket, Key=key, Body=encode_wav(caller_ulaw, agent_ulaw), ContentType=CONTENT_TYPE)
    return key


def presign_recording(s3_client: Any, bucket: str, key: str, expires_s: int = RECORDING_URL_TTL_S) -> str:
    """A GET URL for the recording that works without credentials for ``expires_s`` seconds.

    Signing is local (no request to S3). A URL signed with temporary credentials (a Lambda role)
    stops working when those credentials expire, even if that is sooner than ``expires_s``.
    """
    return str(s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                ExpiresIn=expires_s))
