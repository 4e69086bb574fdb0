"""Influencer alerts: rules over the scored graph, stored once, sent by notifiers.

* :mod:`alerts.records`: the :class:`Alert` record and its de-duplication id;
* :mod:`alerts.rules`: each rule as a pure function over rows;
* :mod:`alerts.engine`: :func:`snapshot` before a rescore, :func:`evaluate` after it;
* :mod:`alerts.history`: storing, listing and acknowledging alerts in the graph;
* :mod:`alerts.notify`: the :class:`Notifier` seam (a log notifier today).
"""

from alerts.engine import Snapshot, evaluate, snapshot
from alerts.history import acknowledge, list_alerts
from alerts.notify import LogNotifier, Notifier, dispatch
from alerts.records import Alert, Evidence

__all__ = ["Alert", "Evidence", "Snapshot", "snapshot", "evaluate", "list_alerts", "acknowledge",
           "Notifier", "LogNotifier", "dispatch"]
