"""The few Twilio REST requests the carrier adapter makes, over the Twilio SDK's own transport.

**Why not ``twilio.rest.Client``.** The API Lambda bundle has a size goal (``infra.api_bundle_mb``:
under 15 MB unzipped, so cold starts stay small). ``twilio/rest`` is the largest part of the SDK:
even the one domain the adapter needs, ``twilio/rest/api``, is 4 MB, and it cannot be pruned piece
by piece because ``Account`` imports every 2010-04-01 sub-resource eagerly. So the Lambda bundles
drop ``twilio/rest`` entirely (``infra/bundles.py``), and this module issues the same requests the
SDK's generated resources issue (same URLs, same form and query parameter names, same headers),
checked against ``twilio/rest/api/v2010/account/{call,incoming_phone_number,
available_phone_number_country/local}``.

What is still the SDK's: :class:`twilio.base.client_base.ClientBase` (HTTP Basic auth, the
``User-Agent``/``Accept`` headers, dropping ``None`` fields), the ``HttpClient`` it sends through
(``TwilioHttpClient`` or the rebased one in :mod:`.twilio`), and the exceptions:
:class:`~twilio.base.exceptions.TwilioRestException` (or ``TwilioServiceException`` for RFC 9457
bodies) built from Twilio's JSON error body exactly as ``twilio.base.version.Version.exception``
builds them, and the bare ``TwilioException("Unable to fetch page", response)`` that
``twilio.base.page.Page`` raises for a list page that is not a 200. (``twilio.base.version`` itself
cannot be used: it imports ``twilio.rest``.)

Every function imports the SDK when called, never at module import.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Mapping, MutableMapping, Optional

__all__ = ["TwilioRest", "API_BASE_URL", "API_VERSION", "rest_exception"]

# Where twilio-python's Api domain sends every 2010-04-01 request (``twilio/rest/api/__init__.py``).
API_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
# ClientBase reads TWILIO_EDGE / TWILIO_REGION from ``environment or os.environ``: an empty mapping
# would fall back to the process environment, so a mapping that sets both to "no" keeps them out.
_NO_ENVIRONMENT: Mapping[str, str] = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


def rest_exception(method: str, uri: str, response: Any, message: str) -> Exception:
    """The SDK's exception for a refused request, as ``twilio.base.version.Version.exception`` makes it.

    ``message`` is the SDK's prefix ("Unable to create record" …); Twilio's own ``message`` is
    appended, its ``code`` kept (the HTTP status when the body has none).
    """
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException

    try:
        payload = json.loads(response.text)
    except (TypeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        return TwilioRestException(response.status_code, uri, message, response.status_code, method)
    if all(key in payload for key in ("type", "title", "status", "code")):  # RFC 9457 problem details
        return TwilioServiceException(type_uri=payload["type"], title=payload["title"], status=payload["status"],
                                      code=payload["code"], detail=payload.get("detail"),
                                      instance=payload.get("instance"), errors=payload.get("errors"),
                                      method=method, uri=uri)
    if "message" in payload:
        message = f"{message}: {payload['message']}"
    return TwilioRestException(response.status_code, uri, message, payload.get("code", response.status_code),
                               method, payload.get("details"))


class TwilioRest:
    """One account's 2010-04-01 REST API: ``https://api.twilio.com/2010-04-01/Accounts/{sid}/…``.

    ``http_client`` is a twilio-python ``HttpClient`` (the rebased one sends everything to the
    local stand-in). Paths are relative to the account, e.g. ``"Calls.json"``. Methods return
    Twilio's JSON as dicts and raise the SDK's exceptions (see the module docstring) or the
    transport's (``requests.RequestException``).
    """

    def __init__(self, account_sid: str, auth_token: str, *, http_client: Any) -> None:
        from twilio.base.client_base import ClientBase

        self.account_sid = account_sid
        self.client = ClientBase(account_sid, auth_token, http_client=http_client,
                                 environment=dict(_NO_ENVIRONMENT))

    def _uri(self, path: str) -> str:
        """The SDK's relative uri (what its exceptions carry): ``/Accounts/{sid}/{path}``."""
        return f"/Accounts/{self.account_sid}/{path}"

    def _url(self, path: str) -> str:
        return f"{API_BASE_URL}/{API_VERSION}{self._uri(path)}"

    def _send(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
              data: Optional[Mapping[str, Any]] = None, headers: Optional[MutableMapping[str, str]] = None) -> Any:
        return self.client.request(method, self._url(path), params=dict(params) if params is not None else None,
                                   data=dict(data) if data is not None else None,
                                   headers=dict(headers) if headers is not None else None)

    def create(self, path: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST`` a new resource (form-encoded); a non-2xx answer raises "Unable to create record"."""
        response = self._send("POST", path, data=data, headers={"Content-Type": _FORM, "Accept": _JSON})
        if not 200 <= response.status_code < 300:
            raise rest_exception("POST", self._uri(path), response, "Unable to create record")
        return json.loads(response.text) if response.text else {}

    def update(self, path: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """``POST`` changed fields to an instance; a non-2xx answer raises "Unable to update record"."""
        response = self._send("POST", path, data=data, headers={"Content-Type": _FORM, "Accept": _JSON})
        if not 200 <= response.status_code < 300:
            raise rest_exception("POST", self._uri(path), response, "Unable to update record")
        return json.loads(response.text)

    def fetch(self, path: str) -> dict[str, Any]:
        """``GET`` an instance; like the SDK, 3xx answers are not errors, 4xx/5xx are."""
        response = self._send("GET", path, headers={"Accept": _JSON})
        if not 200 <= response.status_code < 400:
            raise rest_exception("GET", self._uri(path), response, "Unable to fetch record")
        return json.loads(response.text)

    def delete(self, path: str) -> None:
        """``DELETE`` an instance; a non-2xx answer raises "Unable to delete record"."""
        response = self._send("DELETE", path, headers={})
        if not 200 <= response.status_code < 300:
            raise rest_exception("DELETE", self._uri(path), response, "Unable to delete record")

    def list(self, path: str, key: str, params: Mapping[str, Any], *, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` records of a list resource, following ``next_page_uri`` as the SDK's
        ``stream`` does. ``key`` is the list's member in the page body (``"calls"`` …)."""
        return list(self._records(path, key, params, limit))

    def _records(self, path: str, key: str, params: Mapping[str, Any], limit: int) -> Iterator[dict[str, Any]]:
        response = self._send("GET", path, params=params, headers={"Content-Type": _FORM, "Accept": _JSON})
        count = 0
        while True:
            page = self._page(response)
            for record in page.get(key) or ():
                yield record
                count += 1
                if limit and count >= limit:
                    return
            next_uri = page.get("next_page_uri")
            if not next_uri:
                return
            # As Page.next_page: the domain's absolute URL, no parameters of our own (the URI holds them).
            response = self.client.request("GET", f"{API_BASE_URL}/{str(next_uri).lstrip('/')}")

    @staticmethod
    def _page(response: Any) -> dict[str, Any]:
        """A list page's body; anything but 200 raises as ``twilio.base.page.Page.process_response``."""
        from twilio.base.exceptions import TwilioException

        if response.status_code != 200:
            raise TwilioException("Unable to fetch page", response)
        payload = json.loads(response.text)
        if not isinstance(payload, dict):
            raise TwilioException("Page Records can not be deserialized")
        return payload
