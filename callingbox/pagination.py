"""Cursor pages: one page of a list, able to fetch the pages after it.

Iterating a page walks every item of every page, following ``next_cursor`` while
``has_more`` is true::

    for call in client.calls.list(status="completed"):    # all pages
        ...
    page = client.calls.list(limit=10)                    # just this page
    page.data, page.has_more, page.next_cursor

    async for call in await async_client.calls.list():    # async: same, with ``async for``
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, Literal, TypeVar

__all__ = ["SyncCursorPage", "AsyncCursorPage"]

_T = TypeVar("_T")


class _CursorPageBase(Generic[_T]):
    object: Literal["list"] = "list"
    data: list[_T]
    """The items of this page, newest first."""
    has_more: bool
    """Whether more items follow this page."""
    next_cursor: str | None
    """Pass as ``cursor`` to get the next page; ``None`` on the last page."""

    def __init__(self, *, data: list[_T], has_more: bool, next_cursor: str | None) -> None:
        self.data = data
        self.has_more = has_more
        self.next_cursor = next_cursor

    def has_next_page(self) -> bool:
        """Whether :meth:`get_next_page` has a page to fetch."""
        return self.has_more and bool(self.next_cursor)

    def _check_next(self) -> str:
        if not self.has_next_page() or self.next_cursor is None:
            raise RuntimeError("No next page: has_more is false. Check has_next_page() first.")
        return self.next_cursor

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(data=<{len(self.data)} items>, has_more={self.has_more}, "
            f"next_cursor={self.next_cursor!r})"
        )


class SyncCursorPage(_CursorPageBase[_T]):
    """One page of a list from the sync client; iterate it to walk all pages."""

    def __init__(
        self,
        *,
        data: list[_T],
        has_more: bool,
        next_cursor: str | None,
        fetch: Callable[[str], SyncCursorPage[_T]],
    ) -> None:
        super().__init__(data=data, has_more=has_more, next_cursor=next_cursor)
        self._fetch = fetch

    def get_next_page(self) -> SyncCursorPage[_T]:
        """Fetch the page after this one.

        Raises:
            RuntimeError: this is the last page.
        """
        return self._fetch(self._check_next())

    def iter_pages(self) -> Iterator[SyncCursorPage[_T]]:
        """Yield this page, then every following page."""
        page = self
        yield page
        while page.has_next_page():
            page = page.get_next_page()
            yield page

    def __iter__(self) -> Iterator[_T]:
        for page in self.iter_pages():
            yield from page.data


class AsyncCursorPage(_CursorPageBase[_T]):
    """One page of a list from the async client; ``async for`` over it walks all pages."""

    def __init__(
        self,
        *,
        data: list[_T],
        has_more: bool,
        next_cursor: str | None,
        fetch: Callable[[str], Awaitable[AsyncCursorPage[_T]]],
    ) -> None:
        super().__init__(data=data, has_more=has_more, next_cursor=next_cursor)
        self._fetch = fetch

    async def get_next_page(self) -> AsyncCursorPage[_T]:
        """Fetch the page after this one.

        Raises:
            RuntimeError: this is the last page.
        """
        return await self._fetch(self._check_next())

    async def iter_pages(self) -> AsyncIterator[AsyncCursorPage[_T]]:
        """Yield this page, then every following page."""
        page = self
        yield page
        while page.has_next_page():
            page = await page.get_next_page()
            yield page

    async def __aiter__(self) -> AsyncIterator[_T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item
