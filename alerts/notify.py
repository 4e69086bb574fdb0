"""Notifiers: where a new alert is sent.

A notifier is anything with a ``name`` and ``send(alert) -> None``
(:class:`Notifier`). ``send`` delivers one alert or raises; it must not
retry forever (bound every network call with a timeout), since the caller
(:func:`dispatch`, later a Celery task with bounded retries) decides what to
do with a failure. Webhook, Slack and e-mail notifiers come later and register
in :data:`NOTIFIERS`; today there is :class:`LogNotifier`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from alerts.records import Alert

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

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log

    def send(self, alert: Alert) -> None:
        level = logging.INFO if alert.severity == "info" else logging.WARNING
        self.logger.log(level, "[%s] %s (%s; %s)", alert.severity, alert.title, alert.reason, alert.id)


NOTIFIERS: dict[str, type] = {"log": LogNotifier}


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
