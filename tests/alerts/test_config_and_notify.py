"""The ``alerts`` config section (validated at start) and the notifier seam."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from typing import get_args

from agora.config import AlertsConfig, ConfigError, NotifierConfig, NotifierType, default_config_path, load_config
from alerts.notify import NOTIFIERS, LogNotifier, Notifier, dispatch
from alerts.records import Alert

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_shipped_config_lists_every_alerts_key_with_its_default() -> None:
    data = yaml.safe_load(default_config_path().read_text())["alerts"]
    assert data == AlertsConfig().model_dump()
    config = load_config(default_config_path(), environ={})
    assert config.alerts.influencer_negative.max_polarity == -0.3
    assert config.alerts.new_influencer.top_n is None  # falls back to scoring.top_n


def test_alert_settings_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    config = load_config(path, environ={"AGORA_ALERTS__ENABLED": "false"})
    assert config.alerts.enabled is False
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"AGORA_ALERTS__COMMUNITY_MOOD_DROP__DROP": "5"})
    assert str(info.value).startswith(
        f"{path} (overridden by $AGORA_ALERTS__COMMUNITY_MOOD_DROP__DROP): alerts.community_mood_drop.drop: ")


def alert(severity: str = "critical") -> Alert:
    return Alert(f"influencer_negative:tw:1:{severity}", "influencer_negative", severity, "tw:1",  # type: ignore[arg-type]
                 "Influential customer Giulia Rossi is posting negatively", "mean polarity -0.60", (), NOW)


@pytest.mark.parametrize("name", sorted(NOTIFIERS))
def test_every_notifier_meets_the_contract(name: str) -> None:
    """Each registered type can be configured and builds itself from its settings;
    test_notifiers.py sends through each one to a real local server."""
    assert name in get_args(NotifierType)
    assert callable(getattr(NOTIFIERS[name], "from_settings", None)) and callable(NOTIFIERS[name].send)
    notifier = NOTIFIERS["log"].from_settings(NotifierConfig(type="log", name="audit"), {})
    assert isinstance(notifier, Notifier) and notifier.name == "audit"
    assert set(get_args(NotifierType)) == set(NOTIFIERS)


def test_log_notifier_and_dispatch(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        name = "broken"

        def send(self, alert: Alert) -> None:
            raise ConnectionError("refused")

    with caplog.at_level(logging.INFO, logger="alerts.notify"):
        failures = dispatch([alert("critical"), alert("info")], [Broken(), LogNotifier()])
    assert [(n, a) for n, a, _ in failures] == [("broken", "influencer_negative:tw:1:critical"),
                                               ("broken", "influencer_negative:tw:1:info")]
    sent = [r for r in caplog.records if "Giulia Rossi" in r.getMessage()]
    assert [r.levelno for r in sent] == [logging.WARNING, logging.INFO]  # the broken one did not stop the log
