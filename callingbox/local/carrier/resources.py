"""Twilio's JSON shapes: Call, IncomingPhoneNumber, AvailablePhoneNumber, list pages and errors.

Field names, date format (RFC 2822) and the page envelope follow Twilio's 2010-04-01 API, so the
Twilio SDK deserializes them as it does real responses (its page loader wants exactly one list key
beside the envelope's meta keys).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any, Optional, Sequence
from urllib.parse import urlencode

from .records import CallRecord, NumberRecord

__all__ = [
    "API_VERSION",
    "rfc2822",
    "formatted_number",
    "call_resource",
    "number_resource",
    "available_number",
    "page_envelope",
    "error_body",
    "NUMBER_FIELDS",
]

API_VERSION = "2010-04-01"

NUMBER_FIELDS = {
    # Twilio's form parameter -> the resource's JSON field, for the writable properties we keep.
    "FriendlyName": "friendly_name",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "VoiceCallerIdLookup": "voice_caller_id_lookup",
    "VoiceApplicationSid": "voice_application_sid",
    "VoiceReceiveMode": "voice_receive_mode",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "SmsApplicationSid": "sms_application_sid",
    "TrunkSid": "trunk_sid",
    "IdentitySid": "identity_sid",
    "AddressSid": "address_sid",
    "BundleSid": "bundle_sid",
    "EmergencyAddressSid": "emergency_address_sid",
}


def rfc2822(value: Optional[datetime]) -> Optional[str]:
    """``Tue, 31 Aug 2010 20:36:28 +0000``, Twilio's date format (None stays None)."""
    return None if value is None else format_datetime(value.replace(microsecond=0))


def formatted_number(number: str) -> str:
    """``(415) 555-0100`` for North American numbers, the E.164 string otherwise."""
    if number.startswith("+1") and len(number) == 12 and number[1:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def _account_uri(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}"


def call_resource(call: CallRecord) -> dict[str, Any]:
    """The Call resource JSON of ``call``."""
    base = f"{_account_uri(call.account_sid)}/Calls/{call.sid}"
    sub = ("notifications", "recordings", "payments", "events", "siprec", "streams", "transcriptions",
           "user_defined_message_subscriptions", "user_defined_messages")
    names = {"notifications": "Notifications", "recordings": "Recordings", "payments": "Payments",
             "events": "Events", "siprec": "Siprec", "streams": "Streams", "transcriptions": "Transcriptions",
             "user_defined_message_subscriptions": "UserDefinedMessageSubscriptions",
             "user_defined_messages": "UserDefinedMessages"}
    ended = call.terminal
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.date_created),
        "date_updated": rfc2822(call.date_updated),
        "direction": call.direction,
        "duration": str(call.duration) if ended and call.duration is not None else None,
        "end_time": rfc2822(call.end_time),
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": formatted_number(call.from_),
        "group_sid": None,
        "parent_call_sid": call.parent_call_sid,
        "phone_number_sid": call.phone_number_sid,
        # Local calls cost nothing; Twilio reports a negative decimal string once the call is priced.
        "price": "0.00000" if ended else None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.start_time),
        "status": call.status,
        "subresource_uris": {key: f"{base}/{names[key]}.json" for key in sub},
        "to": call.to,
        "to_formatted": formatted_number(call.to),
        "trunk_sid": None,
        "uri": f"{base}.json",
    }


def number_resource(number: NumberRecord) -> dict[str, Any]:
    """The IncomingPhoneNumber resource JSON of ``number``."""
    fields = number.fields
    base = f"{_account_uri(number.account_sid)}/IncomingPhoneNumbers/{number.sid}"
    return {
        "account_sid": number.account_sid,
        "address_requirements": "none",
        "address_sid": fields.get("address_sid"),
        "api_version": API_VERSION,
        "beta": False,
        "capabilities": {"voice": True, "sms": False, "mms": False, "fax": False},
        "date_created": rfc2822(number.date_created),
        "date_updated": rfc2822(number.date_updated),
        "emergency_status": "Inactive",
        "emergency_address_sid": fields.get("emergency_address_sid"),
        "emergency_address_status": "unregistered",
        "friendly_name": fields.get("friendly_name") or formatted_number(number.phone_number),
        "identity_sid": fields.get("identity_sid"),
        "origin": "twilio",
        "phone_number": number.phone_number,
        "sid": number.sid,
        "sms_application_sid": fields.get("sms_application_sid", ""),
        "sms_fallback_method": fields.get("sms_fallback_method", "POST"),
        "sms_fallback_url": fields.get("sms_fallback_url", ""),
        "sms_method": fields.get("sms_method", "POST"),
        "sms_url": fields.get("sms_url", ""),
        "status_callback": fields.get("status_callback", ""),
        "status_callback_method": fields.get("status_callback_method", "POST"),
        "trunk_sid": fields.get("trunk_sid"),
        "uri": f"{base}.json",
        "voice_application_sid": fields.get("voice_application_sid", ""),
        "voice_caller_id_lookup": str(fields.get("voice_caller_id_lookup", "false")).lower() == "true",
        "voice_fallback_method": fields.get("voice_fallback_method", "POST"),
        "voice_fallback_url": fields.get("voice_fallback_url"),
        "voice_method": fields.get("voice_method", "POST"),
        "voice_url": fields.get("voice_url"),
        "voice_receive_mode": fields.get("voice_receive_mode", "voice"),
        "bundle_sid": fields.get("bundle_sid"),
        "status": "in-use",
        "subresource_uris": {"assigned_add_ons": f"{base}/AssignedAddOns.json"},
    }


def available_number(number: str, *, country: str, locality: Optional[str], region: Optional[str]
                     ) -> dict[str, Any]:
    """One ``available_phone_numbers`` entry."""
    return {
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "SMS": False, "MMS": False, "fax": False},
        "friendly_name": formatted_number(number),
        "iso_country": country,
        "lata": None,
        "latitude": None,
        "locality": locality,
        "longitude": None,
        "phone_number": number,
        "postal_code": None,
        "rate_center": None,
        "region": region,
    }


def page_envelope(key: str, items: Sequence[dict[str, Any]], *, path: str, query: dict[str, str],
                  page: int, page_size: int, has_next: bool) -> dict[str, Any]:
    """Twilio's list envelope around one page of ``items``; the URIs keep the caller's filters."""

    def uri(page_number: int) -> str:
        params = {**query, "PageSize": str(page_size), "Page": str(page_number)}
        return f"{path}?{urlencode(params)}"

    start = page * page_size
    return {
        key: list(items),
        "end": start + max(len(items) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if has_next else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": uri(page),
    }


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's REST error JSON."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
