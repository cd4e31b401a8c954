"""Base for spider middlewares that add requests after some of the spider's output."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response


class FollowUpMiddleware:
    """Passes the spider's output on, each piece followed by the requests it calls for.

    The follow-ups are decided (and registered with shared state such as the profile
    plan or the script cache) before the item moves on to the pipelines, which look
    that state up.
    """

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for out in result:
            requests = self.follow_up(response, out)
            yield out
            for request in requests:
                yield request

    def follow_up(self, response: Response, out: Any) -> list[Request]:
        raise NotImplementedError
