"""The workers section's timeouts and crawls: bad values stop the start with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agora.config import ConfigError, load_config
from workers.app import make_app


def _load(tmp_path: Path, **workers: object):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"workers": workers}), encoding="utf-8")
    return load_config(path, environ={})


def test_visibility_timeout_must_exceed_the_time_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"workers: .*visibility_timeout_s \(600\) must exceed task_time_limit_s"):
        _load(tmp_path, task_time_limit_s=600, visibility_timeout_s=600)
    config = _load(tmp_path, task_time_limit_s=600, visibility_timeout_s=700)
    assert make_app(config).conf.broker_transport_options["visibility_timeout"] == 700
    default = _load(tmp_path, task_time_limit_s=600)
    options = make_app(default).conf.broker_transport_options
    assert options["visibility_timeout"] == 900 and options["unacked_restore_interval"] <= 10
    assert options["socket_timeout"] and options["socket_connect_timeout"]  # no Redis call waits forever


def test_rabbitmq_time_limit_stays_below_its_consumer_timeout(tmp_path: Path) -> None:
    amqp = "amqp://guest:guest@127.0.0.1:5672//"
    with pytest.raises(ConfigError, match=r"task_time_limit_s \(3600\) must be below amqp_consumer_timeout_s"):
        _load(tmp_path, broker_url=amqp, task_time_limit_s=3600)
    assert _load(tmp_path, broker_url=amqp).workers.task_time_limit_s < 1800  # the default fits
    assert _load(tmp_path, broker_url=amqp, task_time_limit_s=3600, amqp_consumer_timeout_s=7200)


def test_crawl_sources(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"workers.crawls.x.connector: .*'nofactory' is not 'module:factory'"):
        _load(tmp_path, crawls={"x": {"connector": "nofactory"}})
    with pytest.raises(ConfigError, match=r"workers.crawls.x.per_s"):
        _load(tmp_path, crawls={"x": {"connector": "m:f", "per_s": 0}})
    with pytest.raises(ConfigError, match=r"workers.log_format"):
        _load(tmp_path, log_format="xml")
    w = _load(tmp_path, crawls={"x": {"connector": "m:f"}, "y": {"connector": "m:f", "interval_s": 5},
                                "twitter": {"requests": 3, "per_s": 2}}).workers
    assert w.custom_crawls() == {"x": 300, "y": 5}  # built-in twitter: scheduled by listening.crawl_interval_s
    assert (w.crawl("twitter").requests, w.crawl("twitter").per_s) == (3, 2)
    assert (w.crawl("telegram").requests, w.crawl("telegram").per_s) == (60, 60)  # no entry: the defaults
    with pytest.raises(ConfigError, match=r"workers.crawls: .*'x' is not a built-in connector"):
        _load(tmp_path, crawls={"x": {"requests": 3}})
    with pytest.raises(ConfigError, match=r"workers.crawls: .*'twitter' is the built-in connector"):
        _load(tmp_path, crawls={"twitter": {"connector": "m:f"}})
    with pytest.raises(ConfigError, match=r"workers.crawls: .*scheduled by listening.crawl_interval_s.twitter"):
        _load(tmp_path, crawls={"twitter": {"interval_s": 60}})
    with pytest.raises(ConfigError, match=r"workers.crawl_interval_s"):  # removed: one place per interval
        _load(tmp_path, crawl_interval_s=60)
