"""Live connectors: one module per source behind :class:`~listening.connectors.base.Connector`.

Importing this package registers every connector in
:data:`~listening.connectors.base.REGISTRY` (``twitter``, ``telegram``,
``whatsapp``, ``meta``).
"""

from listening.connectors import meta, telegram, twitter, whatsapp  # noqa: F401  (registers them)
from listening.connectors.base import (REGISTRY, Connector, CrawlReport, MappingError, Page, RateLimited, crawl,
                                      cursor_key)

__all__ = ["REGISTRY", "Connector", "CrawlReport", "MappingError", "Page", "RateLimited", "crawl", "cursor_key"]
