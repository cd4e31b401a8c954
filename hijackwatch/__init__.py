"""hijackwatch: find SEO-hijacked pages on the sites you are responsible for."""

from __future__ import annotations

__version__ = "0.1.0"
