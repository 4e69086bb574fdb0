"""The ``listening`` section: shipped with every key, validated with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agora.config import ConfigError, default_config_path, load_config


def test_shipped_config_lists_every_listening_key() -> None:
    config = load_config(default_config_path(), environ={})
    data = yaml.safe_load(default_config_path().read_text())["listening"]
    assert set(data) == set(type(config.listening).model_fields)
    for name in ("twitter", "telegram", "webhooks"):
        assert set(data[name]) == set(type(getattr(config.listening, name)).model_fields), name


@pytest.mark.parametrize("text, key, reason", [
    ("listening:\n  twitter:\n    brand_user_ids: ['@CaffeAurora']\n", "listening.twitter.brand_user_ids",
     "not a numeric user id"),
    ("listening:\n  twitter:\n    max_results: 500\n", "listening.twitter.max_results", "less than or equal to 100"),
    ("listening:\n  telegram:\n    mode: push\n", "listening.telegram.mode", "'polling' or 'webhook'"),
    ("listening:\n  webhooks:\n    port: 0\n", "listening.webhooks.port", "greater than or equal to 1"),
    ("listening:\n  webhooks:\n    redis_url: amqp://x\n", "listening.webhooks.redis_url", "redis://"),
    ("listening:\n  crawl_interval_s: {whatsapp: 60}\n", "listening.crawl_interval_s", "unknown crawled source"),
    ("listening:\n  twitter:\n    bearer_token: x\n", "listening.twitter.bearer_token", "unknown key"),
])
def test_bad_listening_values_name_the_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.key == key and reason in info.value.reason, str(info.value)
