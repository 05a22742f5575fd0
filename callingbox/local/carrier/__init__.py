"""The local Twilio stand-in: Twilio's REST API and the phone network, on loopback.

The real Twilio SDK, pointed at :attr:`LocalCarrier.api_url`, runs unchanged against it, so the
platform's one carrier adapter serves both Twilio and the local stack. Start it with
:func:`start_local_carrier`; ``callingbox phone ring`` rings a number from the command line.

REST API (HTTP Basic auth ``account_sid:auth_token`` on every route; Twilio's error JSON)
---------------------------------------------------------------------------------------------
Under ``/2010-04-01/Accounts/{AccountSid}/``:

* ``Calls.json`` POST (To, From, Twiml | Url [+Method], StatusCallback, StatusCallbackEvent…,
  StatusCallbackMethod, Timeout, TimeLimit, MachineDetection, AsyncAmd, AsyncAmdStatusCallback[Method])
  → 201 Call; GET lists calls newest first (To, From, Status, ParentCallSid, StartTime / StartTime> /
  StartTime<, EndTime…; Page, PageSize) in Twilio's page envelope.
* ``Calls/{Sid}.json`` GET; POST updates: ``Status=completed|canceled``, ``Twiml`` / ``Url``.
* ``IncomingPhoneNumbers.json`` GET (PhoneNumber, FriendlyName) / POST (buy: PhoneNumber or
  AreaCode, VoiceUrl, VoiceMethod, StatusCallback, StatusCallbackMethod, FriendlyName…).
* ``IncomingPhoneNumbers/{Sid}.json`` GET / POST (update) / DELETE (release).
* ``AvailablePhoneNumbers/{US|CA}/Local.json`` GET (AreaCode, Contains, PageSize).

Errors: bad credentials → 401 code 20003; unknown resource → 404 code 20404; To not E.164 →
400 code 21211 (From: 21212); redirecting an ended call → 400 code 21220.

Local extensions (same auth, JSON bodies):

* ``POST /local/callees`` ``{"number", "behaviour", "lines": [...], "speaks_first", "answer_delay_s",
  "idle_hangup_s", "greeting"}`` scripts who answers a number; ``GET /local/callees`` lists the
  scripts and the test numbers; ``DELETE /local/callees/{number}`` forgets a script.
* ``POST /local/ring`` ``{"to", "from", "lines": [...]}`` → 201 Call: an inbound call to an owned number.
* ``GET /local/calls/{Sid}`` → the call's statuses, event log, lines spoken and streams.

Rules of the local world
------------------------
* One account; every well-formed number can be bought (numbers on offer are ``+1 AREA 555-01xx``).
* Updating an unknown IncomingPhoneNumber whose sid is well formed (``PN`` + 32 hex digits) adopts
  it (that is how CallingBox imports numbers locally): its PhoneNumber is the ``FriendlyName``
  parameter when that is E.164; otherwise 404.
* Any From number may call out; calls and numbers cost nothing (price ``0.00000``).
* Status callbacks, webhooks, AMD callbacks and the media stream's upgrade request carry
  ``X-Twilio-Signature`` computed with the account's auth token. Status callbacks carry Twilio's
  fields (CallSid, AccountSid, From, To, Called, Caller, CallStatus, Direction, ApiVersion,
  CallbackSource ``call-progress-events``, SequenceNumber from 0, Timestamp; on the ``completed``
  event CallDuration in seconds, Duration in minutes rounded up, SipResponseCode).
* The call's behaviour follows :mod:`.simulation`; the far end follows :mod:`.parties`.

Test numbers (any other destination answers as a human)
-------------------------------------------------------
=================  ===========  ==========================================================
Number             Behaviour    What happens
=================  ===========  ==========================================================
``+15550100001``   human        answers after the answer delay, says "Hello?" then its lines
``+15550100002``   voicemail    greeting (~3 s) then a 1 kHz beep; records until silence
``+15550100003``   busy         ``busy``
``+15550100004``   no_answer    rings until Timeout: ``no-answer``
``+15550100005``   failed       ``failed``
``+15550100006``   hangup       answers and hangs up at once, no media (benchmarks)
=================  ===========  ==========================================================

A human callee takes turns: it speaks its next line once the agent's audio has stopped for 0.7 s
(or when the agent said nothing for ``reply_timeout_s``); after its last line it waits for the agent
to hang up, or hangs up after ``idle_hangup_s`` of silence (``linger_s`` at the latest). Script a
number with ``POST /local/callees`` or :meth:`LocalCarrier.set_callee`; every delay is in
:class:`Timing`. Asynchronous AMD reports ``machine_end_beep`` when a voicemail's beep ends and
``human`` about a second after a person answers. Each :class:`CallRecord` keeps its status history,
an event log, the lines the far end said and the audio it heard (:attr:`CallRecord.heard_audio`).

Limitations: no recordings, conferences, SMS, ``<Gather>``; ``<Say>`` and ``<Play>`` only take time
(no audio); a ``<Dial>``ed person is not heard on the stream (the bridge only lasts
``dial_bridge_s``); calls placed by ``callingbox phone ring --interactive`` live in the CLI
process, so the running carrier cannot update them over REST.
"""

from __future__ import annotations

from .callees import BEHAVIOURS, TEST_NUMBERS, CalleeDirectory, CalleeScript
from .network import NumberNotFound, PhoneNetwork
from .records import CallEvent, CallRecord, NumberRecord, SpokenLine, StreamRecord
from .server import LocalCarrier, start_local_carrier
from .timing import FAST_TIMING, Timing

__all__ = [
    "start_local_carrier",
    "LocalCarrier",
    "PhoneNetwork",
    "NumberNotFound",
    "CallRecord",
    "CallEvent",
    "NumberRecord",
    "SpokenLine",
    "StreamRecord",
    "CalleeScript",
    "CalleeDirectory",
    "TEST_NUMBERS",
    "BEHAVIOURS",
    "Timing",
    "FAST_TIMING",
]
