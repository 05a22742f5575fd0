"""The embedded AWS emulation's HTTP server: connections stay open between requests (as AWS's do),
and stopping it ends its thread and closes its port."""

from __future__ import annotations

import http.client
import json

import pytest

from callingbox.local.aws import start_emulated_aws


def _list_tables(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    connection.request("POST", "/", body=json.dumps({}), headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    response = connection.getresponse()
    response.read()
    return response


def test_requests_share_one_connection_and_stop_closes_the_port() -> None:
    # GIVEN a running emulation
    aws = start_emulated_aws()
    server = aws.server
    host, port = aws.endpoint_url.removeprefix("http://").split(":")
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        # WHEN two requests go over one connection
        first = _list_tables(connection)
        socket_used = connection.sock
        second = _list_tables(connection)
        # THEN both are answered on the same socket: the server did not close it
        assert first.status == second.status == 200
        assert first.getheader("Connection", "").lower() != "close"
        assert connection.sock is socket_used and socket_used is not None
        connection.close()
    finally:
        aws.stop()
    # AND once stopped its thread is gone and the port refuses connections
    assert not server._thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        _list_tables(http.client.HTTPConnection(host, int(port), timeout=5))
