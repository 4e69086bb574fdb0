"""Influencer alerts: rules over the scored graph, stored once, sent by notifiers.

* :mod:`alerts.records`: the :class:`Alert` record and its de-duplication id;
* :mod:`alerts.rules`: each rule as a pure function over rows;
* :mod:`alerts.engine`: :func:`snapshot` before a rescore, :func:`evaluate` after it;
* :mod:`alerts.history`: storing, listing and acknowledging alerts in the graph;
* :mod:`alerts.notify`: the :class:`Notifier` seam and the registry of notifier types;
* :mod:`alerts.webhook`, :mod:`alerts.slack`, :mod:`alerts.mail`: the signed
  webhook, Slack incoming webhook and SMTP (STARTTLS) notifiers, over :mod:`alerts.http`;
* :mod:`alerts.delivery`: retries with backoff, the background :class:`Dispatcher`,
  and each outcome stored on its alert.
"""

from alerts.delivery import Delivery, Dispatcher, build_notifiers, deliver
from alerts.engine import Snapshot, evaluate, snapshot
from alerts.history import acknowledge, list_alerts
from alerts.notify import LogNotifier, Notifier, dispatch
from alerts.records import Alert, Evidence

__all__ = ["Alert", "Evidence", "Snapshot", "snapshot", "evaluate", "list_alerts", "acknowledge",
           "Notifier", "LogNotifier", "dispatch", "Delivery", "Dispatcher", "build_notifiers", "deliver"]
