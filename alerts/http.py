"""POSTing JSON with a timeout, and sorting failures into worth-retrying or not.

Shared by the webhook and Slack notifiers. Only the standard library
(:mod:`urllib.request`): one small request per alert needs no client library.
"""

from __future__ import annotations

import email.utils
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

__all__ = ["DeliveryError", "PermanentError", "post_json", "retry_after_s"]

_MAX_BODY = 64 * 1024  # of a response: enough for an error message
USER_AGENT = "agora-alerts/0.1"


class DeliveryError(Exception):
    """One attempt to deliver failed; another may succeed (a timeout, a 5xx, a 429).

    ``retry_after_s`` is the wait the server asked for (``Retry-After``), if any."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(DeliveryError):
    """Retrying cannot help: the endpoint refused the request itself (4xx other
    than 408 and 429, a bad SMTP recipient, wrong credentials)."""


def post_json(url: str, body: bytes, *, headers: Mapping[str, str] | None = None, timeout_s: float) -> str:
    """POST ``body`` (already-encoded JSON) to ``url``; return the response text.

    Raises :class:`PermanentError` for a 4xx answer other than 408/429 and
    :class:`DeliveryError` for everything else that is not a 2xx (5xx, 408,
    429, refused connections, timeouts). Every call is bounded by
    ``timeout_s`` (connect and each read).
    """
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": USER_AGENT, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) checked in config
            return response.read(_MAX_BODY).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read(_MAX_BODY).decode("utf-8", "replace").strip()[:200] if exc.fp else ""
        message = f"HTTP {exc.code} from {_host(url)}" + (f": {detail}" if detail else "")
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise PermanentError(message) from None
        raise DeliveryError(message, retry_after_s=retry_after_s(exc.headers.get("Retry-After"))) from None
    except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, DNS, timeout, TLS
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_host(url)}: {reason}") from None


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if absent or unreadable.

    >>> retry_after_s("7"), retry_after_s(None), retry_after_s("soon")
    (7.0, None, None)
    >>> retry_after_s("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _host(url: str) -> str:
    """The scheme and host of ``url``, never its path (a Slack webhook's path is its secret)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
