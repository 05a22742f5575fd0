"""The recording's WAV encoding, key, upload call and presigning, without any server."""

from __future__ import annotations

import io
import wave
from array import array
from typing import Any

import pytest

from callingbox.core import recordings
from callingbox.core.media.mulaw import ulaw_to_pcm16
from callingbox.core.settings import Settings


def _decode(wav_bytes: bytes) -> tuple[tuple[int, int, int, int], bytes, bytes]:
    with wave.open(io.BytesIO(wav_bytes), "rb") as reader:
        shape = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate(), reader.getnframes())
        frames = array("h", reader.readframes(reader.getnframes()))
    return shape, frames[0::2].tobytes(), frames[1::2].tobytes()


def test_interleaves_caller_left_agent_right() -> None:
    caller, agent = bytes(range(0, 256, 2)), bytes(range(1, 256, 2))
    shape, left, right = _decode(recordings.encode_wav(caller, agent))
    assert shape == (2, 2, 8000, 128)
    assert (left, right) == (ulaw_to_pcm16(caller), ulaw_to_pcm16(agent))


@pytest.mark.parametrize("caller_len, agent_len", [(80, 240), (240, 80), (0, 160), (160, 0)])
def test_the_shorter_side_is_padded_with_silence(caller_len: int, agent_len: int) -> None:
    caller, agent = b"\x10" * caller_len, b"\x90" * agent_len
    shape, left, right = _decode(recordings.encode_wav(caller, agent))
    frames = max(caller_len, agent_len)
    assert shape[3] == frames
    assert left == ulaw_to_pcm16(caller) + bytes(2 * (frames - caller_len))
    assert right == ulaw_to_pcm16(agent) + bytes(2 * (frames - agent_len))


def test_an_empty_call_is_still_a_valid_wav() -> None:
    assert _decode(recordings.encode_wav(b"", b"")) == ((2, 2, 8000, 0), b"", b"")


class _FakeS3:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.puts.append(kwargs)
        return {}


def test_write_puts_one_object_under_the_calls_key() -> None:
    s3 = _FakeS3()
    key = recordings.write_recording(s3, "bucket-x", "ws_1", "call_1", b"\x7f" * 160, b"\x7f" * 160)
    assert key == "recordings/ws_1/call_1.wav" == recordings.recording_key("ws_1", "call_1")
    [put] = s3.puts
    assert (put["Bucket"], put["Key"], put["ContentType"]) == ("bucket-x", key, "audio/wav")
    assert _decode(put["Body"])[0] == (2, 2, 8000, 160)


def test_presign_is_local_and_short_lived() -> None:
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        config=Config(signature_version="s3v4"))
    url = recordings.presign_recording(client, "callingbox-recordings", "recordings/ws_1/call_1.wav")
    assert "recordings/ws_1/call_1.wav" in url and "X-Amz-Signature=" in url
    assert f"X-Amz-Expires={recordings.RECORDING_URL_TTL_S}" in url and recordings.RECORDING_URL_TTL_S <= 3600


def test_recordings_bucket_setting() -> None:
    assert Settings.from_env({}).recordings_bucket == "callingbox-recordings"
    assert Settings.from_env({"CALLINGBOX_RECORDINGS_BUCKET": "acme-calls"}).recordings_bucket == "acme-calls"
