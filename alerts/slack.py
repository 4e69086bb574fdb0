"""The Slack notifier: each alert as a Block Kit message to an incoming webhook.

The webhook URL is itself a credential (anyone holding it can post to the
channel): give it through ``url_env``. Slack answers ``200 ok``; ``400
invalid_payload``, ``403``, ``404 no_service`` and ``410 channel_is_archived``
are permanent, ``429`` (with ``Retry-After``) and 5xx are retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agora.config import NotifierConfig
from alerts.http import post_json
from alerts.records import Alert

__all__ = ["SlackNotifier", "slack_payload"]

_ICON = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
_HEADER_MAX, _SECTION_MAX, _QUOTE_MAX = 150, 3000, 280


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The Block Kit message for ``alert``: a header (the title), the reason
    with its figures, severity/rule/subject fields, and the evidence messages
    quoted; ``text`` is the notification fallback. Text is escaped for mrkdwn.

    >>> from datetime import datetime, timezone
    >>> a = Alert("r:x:1", "influencer_negative", "critical", "tw:1", "Giulia <3 is negative", "mean -0.6", (),
    ...           datetime(2025, 6, 1, tzinfo=timezone.utc))
    >>> p = slack_payload(a)
    >>> p["text"], [b["type"] for b in p["blocks"]]
    ('[critical] Giulia &lt;3 is negative', ['header', 'section', 'section', 'context'])
    """
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(alert.title, _HEADER_MAX), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Why:* {_esc(alert.reason)}", _SECTION_MAX)}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Severity*\n{_ICON.get(alert.severity, '')} {alert.severity}"},
            {"type": "mrkdwn", "text": f"*Rule*\n{alert.rule}"},
            {"type": "mrkdwn", "text": f"*{alert.subject_kind}*\n`{_esc(alert.subject)}`"},
            {"type": "mrkdwn", "text": "*When*\n" + (alert.event_at or alert.created_at).strftime("%Y-%m-%d %H:%M UTC")},
        ]},
    ]
    if alert.evidence:
        lines = []
        for e in alert.evidence:
            polarity = f" ({e.polarity:+.2f})" if e.polarity is not None else ""
            text = _esc(_cut(e.text, _QUOTE_MAX)) if e.text else "_(text not kept)_"
            lines.append(f"> {text}\n`{_esc(e.message_id)}`{polarity}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            "*Messages behind it*\n" + "\n".join(lines), _SECTION_MAX)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Agora alert `{_esc(alert.id)}`"}]})
    return {"text": _cut(f"[{alert.severity}] {_esc(alert.title)}", _SECTION_MAX), "blocks": blocks}


class SlackNotifier:
    """POSTs each alert to a Slack incoming webhook. One attempt per :meth:`send`."""

    def __init__(self, url: str, *, name: str = "slack", timeout_s: float = 10.0) -> None:
        self.name, self.url, self.timeout_s = name, url, timeout_s

    @classmethod
    def from_settings(cls, settings: NotifierConfig, environ: Mapping[str, str]) -> "SlackNotifier":
        from alerts.delivery import env_value

        return cls(env_value(settings, "url", environ), name=settings.name or "slack", timeout_s=settings.timeout_s)

    def send(self, alert: Alert) -> None:
        body = json.dumps(slack_payload(alert), ensure_ascii=False).encode("utf-8")
        post_json(self.url, body, timeout_s=self.timeout_s)


def _esc(text: str) -> str:
    """Slack's three control characters (``&``, ``<``, ``>``) escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
