"""Notifiers: where a new alert is sent.

A notifier is anything with a ``name`` and ``send(alert) -> None``
(:class:`Notifier`). ``send`` makes one attempt: it delivers the alert or
raises (:class:`~alerts.http.PermanentError` when retrying cannot help), and
bounds every network call with a timeout; retries, backoff and recording the
outcome are the caller's (:func:`alerts.delivery.deliver`).

:data:`NOTIFIERS` maps each ``alerts.notifiers[].type`` to its class; each
class builds itself with ``from_settings(settings, environ)``:
:class:`LogNotifier`, :class:`~alerts.webhook.WebhookNotifier` (signed JSON),
:class:`~alerts.slack.SlackNotifier` (Block Kit) and
:class:`~alerts.mail.EmailNotifier` (SMTP, STARTTLS, text and HTML).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from alerts.records import Alert

if TYPE_CHECKING:
    from agora.config import NotifierConfig

__all__ = ["Notifier", "LogNotifier", "NOTIFIERS", "dispatch"]

log = logging.getLogger(__name__)


@runtime_checkable
class Notifier(Protocol):
    """Sends alerts somewhere. ``send`` returns when the alert is delivered
    and raises when it could not be."""

    name: str

    def send(self, alert: Alert) -> None: ...


class LogNotifier:
    """Writes each alert to a logger (``alerts.notify`` by default):
    critical and warning alerts at WARNING, info at INFO."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None, *, name: str = "log") -> None:
        self.logger = logger or log
        self.name = name

    @classmethod
    def from_settings(cls, settings: "NotifierConfig", environ: Mapping[str, str]) -> "LogNotifier":
        return cls(name=settings.name or "log")

    def send(self, alert: Alert) -> None:
        level = logging.INFO if alert.severity == "info" else logging.WARNING
        self.logger.log(level, "[%s] %s (%s; %s)", alert.severity, alert.title, alert.reason, alert.id)


def _registry() -> dict[str, type]:
    from alerts.mail import EmailNotifier
    from alerts.slack import SlackNotifier
    from alerts.webhook import WebhookNotifier

    return {"log": LogNotifier, "webhook": WebhookNotifier, "slack": SlackNotifier, "email": EmailNotifier}


NOTIFIERS: dict[str, type] = _registry()


def dispatch(alerts: Iterable[Alert], notifiers: Iterable[Notifier]) -> list[tuple[str, str, Exception]]:
    """Send every alert to every notifier; a failing notifier does not stop
    the others. Returns the failures as ``(notifier name, alert id, error)``."""
    notifiers = list(notifiers)
    failures = []
    for alert in alerts:
        for notifier in notifiers:
            try:
                notifier.send(alert)
            except Exception as exc:  # one broken channel must not silence the rest
                log.error("notifier %s could not send %s: %s", notifier.name, alert.id, exc)
                failures.append((notifier.name, alert.id, exc))
    return failures
