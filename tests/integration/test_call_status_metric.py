"""Every status a call enters counts once in ``CallStatus`` (CloudWatch EMF on stdout), with the
names the deployment's dashboard reads (``infra/metrics.py``); repeats and non-status writes count
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callingbox.core.call_states import CallStatus
from callingbox.core.observability import CALL_STATUS_METRIC, NAMESPACE
from callingbox.core.store import calls as call_store


@pytest.fixture(autouse=True)
def metrics_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def counted(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    """(service, status) of every ``CallStatus`` line printed since the last read, each checked whole."""
    found = []
    for line in capsys.readouterr().out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or CALL_STATUS_METRIC not in document:
            continue
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive == {"Namespace": NAMESPACE, "Dimensions": [["service", "status"]],
                             "Metrics": [{"Name": CALL_STATUS_METRIC, "Unit": "Count"}]}
        assert document[CALL_STATUS_METRIC] == [1]
        found.append((document["service"], document["status"]))
    return found


def test_each_status_a_call_enters_counts_once(api: Any, workspace: Any, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.metrics import CALL_STATUS_METRIC as DASHBOARD_METRIC

    assert DASHBOARD_METRIC == CALL_STATUS_METRIC == "CallStatus"
    agent = api.post("/v1/agents", json={"name": "Metrics", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    capsys.readouterr()
    # WHEN a call is created THEN its first status counts
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550142"})
    assert call.status_code == 200, call.text
    assert counted(capsys) == [("callingbox", "queued")]
    # WHEN it moves, in a process whose Powertools service is set (as infra sets it per function)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "callingbox-dialer")
    assert call_store.transition_call(workspace.id, call.json()["id"], CallStatus.RINGING).changed
    assert counted(capsys) == [("callingbox-dialer", "ringing")]
    # WHEN the same move is written again, or a write leaves the status as it is THEN nothing counts
    assert not call_store.transition_call(workspace.id, call.json()["id"], CallStatus.RINGING).changed

    def note(doc: dict[str, Any]) -> dict[str, Any]:
        doc["metadata"] = {"noted": "yes"}
        return doc

    assert call_store.update_call(workspace.id, call.json()["id"], note).changed
    assert counted(capsys) == []
    # AND a final status counts once
    call_store.transition_call(workspace.id, call.json()["id"], CallStatus.NO_ANSWER, end_reason="no_answer")
    call_store.transition_call(workspace.id, call.json()["id"], CallStatus.NO_ANSWER, end_reason="no_answer")
    assert counted(capsys) == [("callingbox-dialer", "no_answer")]
