"""Recordings in the emulated S3 (moto): the two-channel WAV, presigned URLs, and recording_url on the call."""

from __future__ import annotations

import io
import os
import wave
from array import array
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from callingbox.core import recordings
from callingbox.core.media.mulaw import FRAME_BYTES, SAMPLE_RATE, pcm16_to_ulaw, ulaw_to_pcm16
from callingbox.core.resources import RECORDINGS_BUCKET
from callingbox.core.store import calls as call_store
from tests.support import new_workspace


@pytest.fixture
def s3(local_stack: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1",
                        config=Config(signature_version="s3v4"))


def _tone(samples: int, period: int, amplitude: int) -> bytes:
    """A square-ish wave as μ-law, built without a per-sample loop."""
    high = array("h", [amplitude] * (period // 2) + [-amplitude] * (period - period // 2)).tobytes()
    pcm = (high * (samples // period + 1))[: samples * 2]
    return pcm16_to_ulaw(pcm)


def _channels(wav_bytes: bytes) -> tuple[tuple[int, int, int, int], bytes, bytes]:
    """(channels, sample width, rate, frames), then the left and the right channel as 16-bit PCM."""
    with wave.open(io.BytesIO(wav_bytes), "rb") as reader:
        shape = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate(), reader.getnframes())
        frames = array("h", reader.readframes(reader.getnframes()))
    return shape, frames[0::2].tobytes(), frames[1::2].tobytes()


def _dispatch(client: Any) -> str:
    agent = client.post("/v1/agents", json={"name": "Out", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    response = client.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_recording_is_a_two_channel_wav_with_each_side_on_its_channel(s3: Any, workspace: Any) -> None:
    # GIVEN two aligned μ-law timelines of different lengths (the agent stopped talking earlier)
    caller = _tone(3 * SAMPLE_RATE, period=40, amplitude=8000) + os.urandom(FRAME_BYTES * 7)
    agent = _tone(2 * SAMPLE_RATE, period=16, amplitude=12000)
    # WHEN written
    key = recordings.write_recording(s3, RECORDINGS_BUCKET, workspace.id, "call_rec1", caller, agent)
    # THEN it sits at recordings/<ws>/<call>.wav as a WAV
    assert key == f"recordings/{workspace.id}/call_rec1.wav"
    stored = s3.get_object(Bucket=RECORDINGS_BUCKET, Key=key)
    assert stored["ContentType"] == "audio/wav"
    shape, left, right = _channels(stored["Body"].read())
    # AND it is 8 kHz, 16-bit, two channels, as long as the longer side
    assert shape == (2, 2, 8000, len(caller))
    # AND the caller is on the left, the agent on the right, the agent padded with silence
    assert left == ulaw_to_pcm16(caller)
    assert right[: 2 * len(agent)] == ulaw_to_pcm16(agent)
    assert right[2 * len(agent):] == bytes(2 * (len(caller) - len(agent)))
    assert left != right[: len(left)]


def test_writing_again_replaces_the_recording(s3: Any, workspace: Any) -> None:
    recordings.write_recording(s3, RECORDINGS_BUCKET, workspace.id, "call_rec2", b"\x01" * 800, b"\x02" * 800)
    key = recordings.write_recording(s3, RECORDINGS_BUCKET, workspace.id, "call_rec2", b"\x03" * 160, b"")
    shape, left, _ = _channels(s3.get_object(Bucket=RECORDINGS_BUCKET, Key=key)["Body"].read())
    assert shape[3] == 160 and left == ulaw_to_pcm16(b"\x03" * 160)


def test_presigned_url_is_fetchable_over_http(s3: Any, local_stack: Any, workspace: Any) -> None:
    key = recordings.write_recording(s3, RECORDINGS_BUCKET, workspace.id, "call_rec3", _tone(800, 20, 5000), b"")
    url = recordings.presign_recording(s3, RECORDINGS_BUCKET, key, expires_s=60)
    # The URL carries its own credentials: a plain client with no AWS setup fetches it
    assert url.startswith(local_stack.aws.endpoint_url) and "X-Amz-Expires=60" in url
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == s3.get_object(Bucket=RECORDINGS_BUCKET, Key=key)["Body"].read()


def test_retrieve_presigns_recording_url_once_a_recording_is_stored(api: Any, s3: Any, workspace: Any,
                                                                   local_stack: Any) -> None:
    # GIVEN a call without a recording: recording_url stays null
    call = _dispatch(api)
    assert api.get(f"/v1/calls/{call}").json()["recording_url"] is None
    # WHEN the gateway writes the recording and stores its key on the call
    caller, agent = _tone(1600, 32, 7000), _tone(1600, 10, 3000)
    key = recordings.write_recording(s3, RECORDINGS_BUCKET, workspace.id, call, caller, agent)
    call_store.set_recording_key(workspace.id, call, key)
    # THEN retrieve returns a short-lived presigned URL that fetches the WAV
    body = api.get(f"/v1/calls/{call}").json()
    url = body["recording_url"]
    assert url and urlparse(url).path.endswith(f"/{key}")
    assert f"X-Amz-Expires={recordings.RECORDING_URL_TTL_S}" in url
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    _, left, right = _channels(response.content)
    assert (left, right) == (ulaw_to_pcm16(caller), ulaw_to_pcm16(agent))
    # AND the rest of the call is as stored; the stored document itself keeps recording_url null
    stored = call_store.get_call(workspace.id, call)
    assert stored.doc["recording_url"] is None and stored.recording_key == key
    assert {k: v for k, v in body.items() if k != "recording_url"} == {
        k: v for k, v in stored.doc.items() if k != "recording_url"}
    # AND another workspace still gets a 404, not a URL
    stranger = new_workspace(local_stack.api_url, "stranger")
    with stranger.http() as client:
        response = client.get(f"/v1/calls/{call}")
        assert response.status_code == 404 and "X-Amz" not in response.text


def test_recording_key_for_an_unknown_call(workspace: Any) -> None:
    from callingbox.core.errors import NotFound

    with pytest.raises(NotFound):
        call_store.set_recording_key(workspace.id, "call_never_existed", "recordings/x/y.wav")
