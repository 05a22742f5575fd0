"""``client.agents``: the reusable unit of call behaviour (``/v1/agents``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from .._base_client import path_id
from .._types import NOT_GIVEN, NotGiven, RequestOptions, pick_given, strip_not_given
from ..pagination import AsyncCursorPage, SyncCursorPage
from ..types import Agent, AgentType, Call, Tool
from ..types.agent import VoicemailAction
from ..types.call import CallStatus, Direction
from . import AsyncAPIResource, SyncAPIResource

__all__ = ["Agents", "AsyncAgents", "AGENT_FIELDS"]

AGENT_FIELDS = (
    "name", "persona", "instructions", "first_message", "voice", "language", "returns", "tools",
    "tool_url", "webhook_url", "voicemail_action", "voicemail_message", "number_ids", "primary_number_id",
    "llm_model", "stt_model", "tts_model", "interruption_threshold", "context_window",
    "max_duration_seconds", "record", "metadata",
)
"""Every settable agent field but ``type``: the keyword arguments of ``update`` (``create`` adds ``type``)."""

_CALL_FILTERS = (
    "status", "direction", "to_number", "from_number", "created_after", "created_before", "limit", "cursor",
)

ToolInput = Tool | Mapping[str, Any]
"""A tool as a :class:`~callingbox.types.Tool` or a plain dict with ``name``, ``description``, ``parameters``."""


class Agents(SyncAPIResource):
    """Create, configure and archive agents; attach their numbers; list their calls."""

    def create(
        self,
        *,
        name: str,
        type: AgentType,
        persona: str | None | NotGiven = NOT_GIVEN,
        instructions: str | None | NotGiven = NOT_GIVEN,
        first_message: str | None | NotGiven = NOT_GIVEN,
        voice: str | None | NotGiven = NOT_GIVEN,
        language: str | NotGiven = NOT_GIVEN,
        returns: Mapping[str, Any] | None | NotGiven = NOT_GIVEN,
        tools: Sequence[ToolInput] | NotGiven = NOT_GIVEN,
        tool_url: str | None | NotGiven = NOT_GIVEN,
        webhook_url: str | None | NotGiven = NOT_GIVEN,
        voicemail_action: VoicemailAction | NotGiven = NOT_GIVEN,
        voicemail_message: str | None | NotGiven = NOT_GIVEN,
        number_ids: Sequence[str] | NotGiven = NOT_GIVEN,
        primary_number_id: str | None | NotGiven = NOT_GIVEN,
        llm_model: str | None | NotGiven = NOT_GIVEN,
        stt_model: str | None | NotGiven = NOT_GIVEN,
        tts_model: str | None | NotGiven = NOT_GIVEN,
        interruption_threshold: float | NotGiven = NOT_GIVEN,
        context_window: int | NotGiven = NOT_GIVEN,
        max_duration_seconds: int | NotGiven = NOT_GIVEN,
        record: bool | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Create an agent (``POST /v1/agents``). Only the arguments you pass are sent.

        Args:
            name: Label shown in the dashboard.
            type: ``"inbound"`` (answers its numbers) or ``"outbound"`` (dispatched by ``calls.create``);
                fixed for the agent's life.
            persona: Identity and policy; a sensible default when omitted.
            instructions: Default task; ``{{variables}}`` are filled from a call's ``context``.
            first_message: Spoken at call start; when absent the agent waits for the other side.
            returns: Schema of the structured result, shorthand (``{"confirmed": "boolean"}``) or JSON Schema.
            tools: In-call tools (``name``, ``description``, ``parameters``); needs ``tool_url``.
            voicemail_action: ``"hangup"`` (default) or ``"leave_message"`` with ``voicemail_message``.
            number_ids: Numbers to attach; ``primary_number_id`` must be one of them.
            metadata: Up to 20 string pairs.

        The other arguments are documented on :class:`callingbox.types.Agent`.
        """
        body = pick_given(locals(), ("type", *AGENT_FIELDS))
        return self._request("POST", "/v1/agents", Agent, body=body, options=options)

    def retrieve(self, agent_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Get one agent (``GET /v1/agents/{id}``)."""
        return self._request("GET", f"/v1/agents/{path_id('agent_id', agent_id)}", Agent, options=options)

    def list(
        self,
        *,
        type: AgentType | NotGiven = NOT_GIVEN,
        archived: bool | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[Agent]:
        """List agents, newest first (``GET /v1/agents``); iterate the page to walk every page."""
        query = pick_given(locals(), ("type", "archived", "limit", "cursor"))
        return self._get_page("/v1/agents", Agent, query=query, options=options)

    def update(
        self,
        agent_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        persona: str | None | NotGiven = NOT_GIVEN,
        instructions: str | None | NotGiven = NOT_GIVEN,
        first_message: str | None | NotGiven = NOT_GIVEN,
        voice: str | None | NotGiven = NOT_GIVEN,
        language: str | NotGiven = NOT_GIVEN,
        returns: Mapping[str, Any] | None | NotGiven = NOT_GIVEN,
        tools: Sequence[ToolInput] | NotGiven = NOT_GIVEN,
        tool_url: str | None | NotGiven = NOT_GIVEN,
        webhook_url: str | None | NotGiven = NOT_GIVEN,
        voicemail_action: VoicemailAction | NotGiven = NOT_GIVEN,
        voicemail_message: str | None | NotGiven = NOT_GIVEN,
        number_ids: Sequence[str] | NotGiven = NOT_GIVEN,
        primary_number_id: str | None | NotGiven = NOT_GIVEN,
        llm_model: str | None | NotGiven = NOT_GIVEN,
        stt_model: str | None | NotGiven = NOT_GIVEN,
        tts_model: str | None | NotGiven = NOT_GIVEN,
        interruption_threshold: float | NotGiven = NOT_GIVEN,
        context_window: int | NotGiven = NOT_GIVEN,
        max_duration_seconds: int | NotGiven = NOT_GIVEN,
        record: bool | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Change an agent (``PATCH /v1/agents/{id}``); edits apply to the next call.

        Arguments left out stay as they are; ``None`` clears a field (sent as ``null``).
        ``type`` cannot change.
        """
        path = f"/v1/agents/{path_id('agent_id', agent_id)}"
        body = pick_given(locals(), AGENT_FIELDS)
        return self._request("PATCH", path, Agent, body=body, options=options)

    def archive(self, agent_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Archive (soft-delete) an agent (``POST /v1/agents/{id}/archive``); its calls stay readable."""
        return self._request("POST", f"/v1/agents/{path_id('agent_id', agent_id)}/archive", Agent, options=options)

    def attach_number(
        self,
        agent_id: str,
        *,
        number_id: str,
        set_as_primary: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Attach a number (``POST /v1/agents/{id}/numbers``).

        Raises:
            ConflictError: an inbound agent gets a number another inbound agent answers.
        """
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/numbers"
        body = strip_not_given({"number_id": number_id, "set_as_primary": set_as_primary})
        return self._request("POST", path, Agent, body=body, options=options)

    def detach_number(self, agent_id: str, *, number_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Detach a number (``DELETE /v1/agents/{id}/numbers/{number_id}``)."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/numbers/{path_id('number_id', number_id)}"
        return self._request("DELETE", path, Agent, options=options)

    def set_primary_number(self, agent_id: str, *, number_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Make an attached number the primary one (``POST /v1/agents/{id}/primary_number``)."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/primary_number"
        return self._request("POST", path, Agent, body={"number_id": number_id}, options=options)

    def list_calls(
        self,
        agent_id: str,
        *,
        status: CallStatus | NotGiven = NOT_GIVEN,
        direction: Direction | NotGiven = NOT_GIVEN,
        to_number: str | NotGiven = NOT_GIVEN,
        from_number: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[Call]:
        """List an agent's calls, newest first (``GET /v1/agents/{id}/calls``); filters as ``calls.list``."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/calls"
        query = pick_given(locals(), _CALL_FILTERS)
        return self._get_page(path, Call, query=query, options=options)


class AsyncAgents(AsyncAPIResource):
    """Async twin of :class:`Agents`: the same methods, awaited."""

    async def create(
        self,
        *,
        name: str,
        type: AgentType,
        persona: str | None | NotGiven = NOT_GIVEN,
        instructions: str | None | NotGiven = NOT_GIVEN,
        first_message: str | None | NotGiven = NOT_GIVEN,
        voice: str | None | NotGiven = NOT_GIVEN,
        language: str | NotGiven = NOT_GIVEN,
        returns: Mapping[str, Any] | None | NotGiven = NOT_GIVEN,
        tools: Sequence[ToolInput] | NotGiven = NOT_GIVEN,
        tool_url: str | None | NotGiven = NOT_GIVEN,
        webhook_url: str | None | NotGiven = NOT_GIVEN,
        voicemail_action: VoicemailAction | NotGiven = NOT_GIVEN,
        voicemail_message: str | None | NotGiven = NOT_GIVEN,
        number_ids: Sequence[str] | NotGiven = NOT_GIVEN,
        primary_number_id: str | None | NotGiven = NOT_GIVEN,
        llm_model: str | None | NotGiven = NOT_GIVEN,
        stt_model: str | None | NotGiven = NOT_GIVEN,
        tts_model: str | None | NotGiven = NOT_GIVEN,
        interruption_threshold: float | NotGiven = NOT_GIVEN,
        context_window: int | NotGiven = NOT_GIVEN,
        max_duration_seconds: int | NotGiven = NOT_GIVEN,
        record: bool | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Create an agent; see :meth:`Agents.create`."""
        body = pick_given(locals(), ("type", *AGENT_FIELDS))
        return await self._request("POST", "/v1/agents", Agent, body=body, options=options)

    async def retrieve(self, agent_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Get one agent; see :meth:`Agents.retrieve`."""
        return await self._request("GET", f"/v1/agents/{path_id('agent_id', agent_id)}", Agent, options=options)

    async def list(
        self,
        *,
        type: AgentType | NotGiven = NOT_GIVEN,
        archived: bool | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[Agent]:
        """List agents; ``async for`` over the page walks every page. See :meth:`Agents.list`."""
        query = pick_given(locals(), ("type", "archived", "limit", "cursor"))
        return await self._get_page("/v1/agents", Agent, query=query, options=options)

    async def update(
        self,
        agent_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        persona: str | None | NotGiven = NOT_GIVEN,
        instructions: str | None | NotGiven = NOT_GIVEN,
        first_message: str | None | NotGiven = NOT_GIVEN,
        voice: str | None | NotGiven = NOT_GIVEN,
        language: str | NotGiven = NOT_GIVEN,
        returns: Mapping[str, Any] | None | NotGiven = NOT_GIVEN,
        tools: Sequence[ToolInput] | NotGiven = NOT_GIVEN,
        tool_url: str | None | NotGiven = NOT_GIVEN,
        webhook_url: str | None | NotGiven = NOT_GIVEN,
        voicemail_action: VoicemailAction | NotGiven = NOT_GIVEN,
        voicemail_message: str | None | NotGiven = NOT_GIVEN,
        number_ids: Sequence[str] | NotGiven = NOT_GIVEN,
        primary_number_id: str | None | NotGiven = NOT_GIVEN,
        llm_model: str | None | NotGiven = NOT_GIVEN,
        stt_model: str | None | NotGiven = NOT_GIVEN,
        tts_model: str | None | NotGiven = NOT_GIVEN,
        interruption_threshold: float | NotGiven = NOT_GIVEN,
        context_window: int | NotGiven = NOT_GIVEN,
        max_duration_seconds: int | NotGiven = NOT_GIVEN,
        record: bool | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Change an agent; see :meth:`Agents.update`."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}"
        body = pick_given(locals(), AGENT_FIELDS)
        return await self._request("PATCH", path, Agent, body=body, options=options)

    async def archive(self, agent_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Archive an agent; see :meth:`Agents.archive`."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/archive"
        return await self._request("POST", path, Agent, options=options)

    async def attach_number(
        self,
        agent_id: str,
        *,
        number_id: str,
        set_as_primary: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Attach a number; see :meth:`Agents.attach_number`."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/numbers"
        body = strip_not_given({"number_id": number_id, "set_as_primary": set_as_primary})
        return await self._request("POST", path, Agent, body=body, options=options)

    async def detach_number(self, agent_id: str, *, number_id: str, **options: Unpack[RequestOptions]) -> Agent:
        """Detach a number; see :meth:`Agents.detach_number`."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/numbers/{path_id('number_id', number_id)}"
        return await self._request("DELETE", path, Agent, options=options)

    async def set_primary_number(
        self, agent_id: str, *, number_id: str, **options: Unpack[RequestOptions]
    ) -> Agent:
        """Make an attached number the primary one; see :meth:`Agents.set_primary_number`."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/primary_number"
        return await self._request("POST", path, Agent, body={"number_id": number_id}, options=options)

    async def list_calls(
        self,
        agent_id: str,
        *,
        status: CallStatus | NotGiven = NOT_GIVEN,
        direction: Direction | NotGiven = NOT_GIVEN,
        to_number: str | NotGiven = NOT_GIVEN,
        from_number: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[Call]:
        """List an agent's calls; see :meth:`Agents.list_calls`."""
        path = f"/v1/agents/{path_id('agent_id', agent_id)}/calls"
        query = pick_given(locals(), _CALL_FILTERS)
        return await self._get_page(path, Call, query=query, options=options)
