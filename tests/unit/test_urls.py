"""Customer URLs are checked when saved."""

from __future__ import annotations

import pytest

from callingbox.core.errors import InvalidRequest
from callingbox.core.urls import check_customer_url


@pytest.mark.parametrize("url", ["https://example.com/hook", "https://93.184.216.34/x", "https://api.example.com:8443/"])
def test_public_https_urls_pass(url: str) -> None:
    check_customer_url(url, param="webhook_url", allow_insecure=False)


@pytest.mark.parametrize("url", [
    "http://example.com/hook", "ftp://example.com", "example.com", "https://", "https://user:pw@example.com",
    "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/", "https://127.0.0.1/", "https://[::1]/",
    "https://192.168.1.5/", "https://localhost/", "https://0.0.0.0/",
])
def test_insecure_or_internal_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_customer_url(url, param="webhook_url", allow_insecure=False)
    assert caught.value.param == "webhook_url"


def test_local_mode_admits_http_loopback_but_still_not_metadata() -> None:
    check_customer_url("http://127.0.0.1:9000/hook", param="tool_url", allow_insecure=True)
    check_customer_url("http://localhost:9000/hook", param="tool_url", allow_insecure=True)
    with pytest.raises(InvalidRequest):
        check_customer_url("http://169.254.169.254/", param="tool_url", allow_insecure=True)
