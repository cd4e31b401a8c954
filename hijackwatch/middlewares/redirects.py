"""Redirects that keep a visitor profile's own Referer, as a browser does.

Scrapy's RedirectMiddleware gives a redirected request the Referer its
RefererMiddleware would give a link on the redirecting page: the page's own URL. A
browser keeps the referrer of the navigation across redirects, so a search visitor
sent from ``/`` to ``/home/`` still arrives "from Baidu" there, and a crawler that sends
no Referer still sends none. Kits that show their spam to search traffic only behind a
redirect were missed while the crawl's search visitors lost their search Referer at the
first hop (``scan``, which keeps it, caught them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response


class ProfileRedirectMiddleware(RedirectMiddleware):
    """RedirectMiddleware whose page views (``meta["hw_profile"]``: every profile, the
    baseline's included) keep exactly the Referer they were sent with, or none."""

    def handle_referer(self, request: Request, response: Response) -> None:
        if request.meta.get("hw_profile"):
            return  # the redirected copy still holds the original request's headers
        super().handle_referer(request, response)
