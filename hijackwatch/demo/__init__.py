"""A small fixture web of clean and hijacked sites served on 127.0.0.x for demos and tests."""

from __future__ import annotations

from hijackwatch.demo.server import FixtureWeb
from hijackwatch.demo.sites import Page, SiteSpec, build_sites

__all__ = ["FixtureWeb", "Page", "SiteSpec", "build_sites"]
