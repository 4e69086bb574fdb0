"""One typed configuration, read from ``config.yaml`` and the environment.

Where the file comes from, first match wins: the ``--config PATH`` option, the
``AGORA_CONFIG`` environment variable, ``./config.yaml``, then the defaults
bundled with the package. Any key can be overridden from the environment as
``AGORA_<SECTION>__<KEY>`` (e.g. ``AGORA_GRAPH__PASSWORD``); secrets belong
there, never in the file. A bad value stops the start with one line naming the
file, the key and the reason (:class:`ConfigError`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["Config", "ConfigError", "AlertsConfig", "NotifierConfig", "load_config", "default_config_path"]

_KINDS = ("post", "reply", "mention", "quote", "share", "message", "reaction")


class ConfigError(Exception):
    """A configuration that cannot be used. ``str()`` is one line: file, key, reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source, self.key, self.reason = source, key, reason
        super().__init__(f"{source}: {key}: {reason}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GraphConfig(_Section):
    uri: str = "embedded"
    user: str = "root"
    password: str | None = None
    database: str = "agora"
    data_dir: Path = Path(".agora/graph")
    bolt_port: int = Field(17687, ge=1, le=65535)
    http_port: int = Field(12480, ge=1, le=65535)
    heap: str = "1g"
    batch_size: int = Field(2000, ge=1, le=100_000)
    start_timeout_s: float = Field(90.0, gt=0)

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if v != "embedded" and not v.startswith(("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")):
            raise ValueError("must be 'embedded' or a bolt:// or neo4j:// URI")
        return v

    @property
    def embedded(self) -> bool:
        return self.uri == "embedded"


class NlpConfig(_Section):
    model: str = "bundled"
    batch_size: int = Field(64, ge=1, le=4096)
    max_length: int = Field(128, ge=8, le=512)
    device: str = "cpu"
    backend: Literal["auto", "torch", "onnx", "onnx-int8"] = "auto"
    cache_dir: Path = Path(".agora/models")


class SwayConfig(_Section):
    """Sway and susceptibility (:mod:`graph.sway`)."""

    window_hours: float = Field(48.0, gt=0)          # a response counts if the answered person spoke this recently
    baseline_messages: int = Field(10, ge=1, le=10_000)  # the responder's baseline: their last N messages before
    min_gap: float = Field(0.1, ge=0, le=2)          # stance this close to the baseline gives no direction
    prior: float = Field(3.0, ge=0, le=1000)         # pseudo-responses shrinking thin evidence toward 0


_CHURN_FACTORS = ("activity_drop", "sentiment_drop", "recent_negative", "negative_exposure")


class ChurnConfig(_Section):
    """Churn risk (:mod:`graph.churn`)."""

    window_days: float = Field(30.0, gt=0, le=3660)
    baseline_windows: int = Field(3, ge=1, le=100)
    negative_polarity: float = Field(-0.3, ge=-1, le=1)
    weights: dict[str, float] = Field(default_factory=lambda: {
        "activity_drop": 0.35, "sentiment_drop": 0.2, "recent_negative": 0.25, "negative_exposure": 0.2})
    weights_file: Path = Path(".agora/churn_weights.json")

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(_CHURN_FACTORS))
        if unknown:
            raise ValueError(f"unknown churn factor {unknown[0]!r} (known: {', '.join(_CHURN_FACTORS)})")
        if any(w < 0 for w in v.values()) or not sum(v.values()) > 0:
            raise ValueError("churn weights must be >= 0 and not all 0")
        return v


class IncrementalConfig(_Section):
    """Incremental rescoring (``agora score --incremental``, and a worker building on its last rescore):
    above ``max_changed_share`` of the people touched by new interactions, rescore fully. A worker
    rescores fully at least every ``full_every_s`` seconds (0: always)."""

    max_changed_share: float = Field(0.1, gt=0, le=1)
    full_every_s: float = Field(3600.0, ge=0)


class OutreachConfig(_Section):
    """``agora outreach`` (:mod:`graph.outreach`): who is influential enough, and when to act."""

    min_influence: float = Field(80.0, ge=0, le=100)    # percentile, overall or in the community
    negative_share: float = Field(0.5, gt=0, le=1)      # calm: this share of recent messages negative
    min_churn_risk: float = Field(0.4, gt=0, le=1)      # retain: churn risk at or above this
    positive_mood: float = Field(0.2, ge=-1, le=1)      # thank: mean polarity at or above this


class ScoringConfig(_Section):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"share": 2.0, "quote": 1.5, "reply": 1.0, "mention": 0.5, "message": 1.0, "reaction": 0.3, "post": 0.0}
    )
    half_life_days: float = Field(30.0, gt=0)
    resolution: float = Field(1.0, gt=0)
    seed: int = 42
    top_n: int = Field(5, ge=1, le=1000)
    sway: SwayConfig = SwayConfig()
    churn: ChurnConfig = ChurnConfig()
    incremental: IncrementalConfig = IncrementalConfig()
    outreach: OutreachConfig = OutreachConfig()

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(_KINDS))
        if unknown:
            raise ValueError(f"unknown interaction kind {unknown[0]!r} (known: {', '.join(_KINDS)})")
        negative = [k for k, w in v.items() if w < 0]
        if negative:
            raise ValueError(f"weight of {negative[0]!r} must be >= 0")
        return v


class GroupChatConfig(_Section):
    window_minutes: float = Field(30.0, gt=0)
    lookback: int = Field(2, ge=1, le=50)


class ImportConfig(_Section):
    timezone: str = "UTC"
    group_chat: GroupChatConfig = GroupChatConfig()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as 'Europe/Rome')") from None
        return v


class SampleConfig(_Section):
    dir: Path = Path(".agora/sample")
    seed: int = 7
    people: int = Field(240, ge=10, le=100_000)


#: The registry's pull connectors (:data:`listening.connectors.REGISTRY`): scheduled by
#: ``listening.crawl_interval_s``; a ``workers.crawls`` entry of the same name only sets their budget.
BUILTIN_CRAWLERS = ("twitter", "telegram")
#: Seconds between scheduled crawls of a ``workers.crawls`` source that sets no ``interval_s``.
DEFAULT_CRAWL_INTERVAL_S = 300.0


class CrawlConfig(_Section):
    """One source's crawl budget, and for a user-written connector (``connector: module:factory``) its
    schedule: ``workers.crawls.<name>``. A source with no entry gets the defaults below."""

    connector: str | None = None                   # module:factory; null: the built-in connector <name>
    interval_s: float | None = Field(None, gt=0)   # beat, custom sources only; null: DEFAULT_CRAWL_INTERVAL_S
    requests: int = Field(60, ge=1)                # shared rate-limit budget: at most this many fetches
    per_s: float = Field(60.0, gt=0)               # ... per this many seconds, across all workers

    @field_validator("connector")
    @classmethod
    def _factory(cls, v: str | None) -> str | None:
        module, _, attr = (v or "").partition(":")
        if v is not None and (not module or not attr):
            raise ValueError(f"{v!r} is not 'module:factory'")
        return v


class WorkersConfig(_Section):
    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str | None = "redis://127.0.0.1:6379/1"
    rescore_interval_s: float = Field(900.0, gt=0)
    task_time_limit_s: float = Field(1500.0, gt=0)
    max_retries: int = Field(5, ge=0, le=100)
    # Redis broker: an unacknowledged task (its worker died) is redelivered after this;
    # null means 1.5 × task_time_limit_s. It must exceed the time limit, or a slow task runs twice.
    visibility_timeout_s: float | None = Field(None, gt=0)
    # RabbitMQ closes the channel of a consumer holding a message longer than its
    # consumer_timeout (server default 30 min); the task time limit must stay below it.
    amqp_consumer_timeout_s: float = Field(1800.0, gt=0)
    log_format: Literal["text", "json"] = "text"
    crawls: dict[str, CrawlConfig] = {}
    # Workers take turns (a lock in Redis) for each ingest batch's graph writes: on the
    # embedded ArcadeDB parallel writers abort each other; on Neo4j leave it off.
    serial_graph_writes: bool = False

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://", "memory://")):
            raise ValueError("must be a redis:// or amqp:// URL")
        return v

    @field_validator("crawls")
    @classmethod
    def _crawls(cls, v: dict[str, CrawlConfig]) -> dict[str, CrawlConfig]:
        for name, c in v.items():
            if c.connector is None and name not in BUILTIN_CRAWLERS:
                raise ValueError(f"{name}.connector: required, {name!r} is not a built-in connector "
                                 f"({', '.join(BUILTIN_CRAWLERS)})")
            if c.connector is not None and name in BUILTIN_CRAWLERS:
                raise ValueError(f"{name}.connector: {name!r} is the built-in connector; give yours another name")
            if c.connector is None and c.interval_s is not None:
                raise ValueError(f"{name}.interval_s: a built-in source is scheduled by "
                                 f"listening.crawl_interval_s.{name}")
        return v

    @model_validator(mode="after")
    def _timeouts(self) -> "WorkersConfig":
        if self.visibility_timeout_s is not None and self.visibility_timeout_s <= self.task_time_limit_s:
            raise ValueError(f"visibility_timeout_s ({self.visibility_timeout_s:g}) must exceed task_time_limit_s "
                             f"({self.task_time_limit_s:g}), or a running task is delivered twice")
        if self.broker_url.startswith(("amqp", "pyamqp")) and self.task_time_limit_s >= self.amqp_consumer_timeout_s:
            raise ValueError(f"task_time_limit_s ({self.task_time_limit_s:g}) must be below amqp_consumer_timeout_s "
                             f"({self.amqp_consumer_timeout_s:g}, RabbitMQ's consumer_timeout), or RabbitMQ "
                             "drops the channel of a long task")
        return self

    @property
    def visibility_timeout(self) -> float:
        """The Redis visibility timeout in effect (seconds)."""
        return self.visibility_timeout_s or self.task_time_limit_s * 1.5

    def crawl(self, source: str) -> CrawlConfig:
        """The crawl settings of ``source``: its ``crawls`` entry, else the defaults.

        >>> WorkersConfig().crawl("twitter").requests
        60
        """
        return self.crawls.get(source) or CrawlConfig()

    def custom_crawls(self) -> dict[str, float]:
        """The user-written sources (``connector`` set) and the seconds between their scheduled crawls."""
        return {name: c.interval_s or DEFAULT_CRAWL_INTERVAL_S for name, c in self.crawls.items() if c.connector}


class OutputConfig(_Section):
    dir: Path = Path("agora-output")


Severity = Literal["info", "warning", "critical"]
_YEAR_H = 24 * 366


class InfluencerNegativeAlert(_Section):
    """An influential person whose recent messages are negative on average."""

    enabled: bool = True
    min_community_influence: float | None = Field(90.0, ge=0, le=100)  # percentile; null: not used
    min_influence: float | None = Field(90.0, ge=0, le=100)            # percentile; null: not used
    max_polarity: float = Field(-0.3, ge=-1, le=1)
    window_days: float = Field(14.0, gt=0, le=3660)
    min_messages: int = Field(2, ge=1, le=1_000_000)
    severity: Severity = "critical"
    cooldown_hours: float = Field(24.0, gt=0, le=_YEAR_H)

    @model_validator(mode="after")
    def _some_influence(self) -> "InfluencerNegativeAlert":
        if self.min_community_influence is None and self.min_influence is None:
            raise ValueError("set min_community_influence or min_influence (both are null)")
        return self


class NewInfluencerAlert(_Section):
    """Someone who entered the top ``top_n`` of their community at this scoring."""

    enabled: bool = True
    top_n: int | None = Field(None, ge=1, le=1000)  # null: scoring.top_n
    min_community_size: int = Field(10, ge=1, le=1_000_000)
    severity: Severity = "info"
    cooldown_hours: float = Field(168.0, gt=0, le=_YEAR_H)


class CommunityMoodDropAlert(_Section):
    """A community whose mood over the last window fell against the window before."""

    enabled: bool = True
    window_days: float = Field(7.0, gt=0, le=3660)
    drop: float = Field(0.25, gt=0, le=2)
    min_messages: int = Field(10, ge=1, le=1_000_000)
    severity: Severity = "warning"
    cooldown_hours: float = Field(24.0, gt=0, le=_YEAR_H)


class ChurnRiskAlert(_Section):
    """An influential customer whose churn risk (``Person.churn_risk``, 0..1, set by scoring) is high."""

    enabled: bool = True
    min_churn_risk: float = Field(0.7, gt=0, le=1)
    min_community_influence: float | None = Field(80.0, ge=0, le=100)  # percentile; null: not used
    min_influence: float | None = Field(80.0, ge=0, le=100)            # percentile; null: not used
    evidence_days: float = Field(30.0, gt=0, le=3660)  # their messages quoted as evidence: from this many days
    severity: Severity = "warning"
    cooldown_hours: float = Field(168.0, gt=0, le=_YEAR_H)

    @model_validator(mode="after")
    def _some_influence(self) -> "ChurnRiskAlert":
        if self.min_community_influence is None and self.min_influence is None:
            raise ValueError("set min_community_influence or min_influence (both are null)")
        return self


class VolumeSpikeAlert(_Section):
    """Far more messages in the last window than in the windows before (per community and overall)."""

    enabled: bool = True
    window_hours: float = Field(1.0, gt=0, le=_YEAR_H)
    baseline_windows: int = Field(24, ge=2, le=10_000)   # the windows before the last one
    min_ratio: float = Field(3.0, gt=1, le=1_000_000)    # last window / baseline mean, at least
    min_z: float | None = Field(3.0, gt=0, le=1000)      # and a z-score against the baseline of at least (null: not used)
    min_messages: int = Field(20, ge=1, le=100_000_000)  # in the last window
    per_community: bool = True
    overall: bool = True
    severity: Severity = "warning"
    cooldown_hours: float = Field(6.0, gt=0, le=_YEAR_H)

    @model_validator(mode="after")
    def _some_scope(self) -> "VolumeSpikeAlert":
        if not (self.per_community or self.overall):
            raise ValueError("per_community and overall are both false: the rule can never fire")
        return self


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ALERT_RULES = ("influencer_negative", "new_influencer", "community_mood_drop", "churn_risk", "volume_spike")
NotifierType = Literal["log", "webhook", "slack", "email"]


class NotifierConfig(_Section):
    """Where alerts go. ``type`` says how; secrets (HMAC key, SMTP password, the
    Slack webhook URL, which is a secret too) are read from the environment
    variables named by ``secret_env``, ``password_env`` and ``url_env``."""

    type: NotifierType
    name: str | None = None                  # default: the type; unique among notifiers
    url: str | None = None                   # webhook, slack: http(s):// endpoint ...
    url_env: str | None = None               # ... or the variable holding it
    secret_env: str | None = None            # webhook: variable holding the HMAC-SHA256 key (required)
    host: str | None = None                  # email: SMTP server
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    ca_file: Path | None = None              # email: CA bundle to trust (default: the system's)
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None                # email: From
    to: list[str] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=lambda: ["info", "warning", "critical"])
    rules: list[str] | None = None           # null: every rule
    timeout_s: float = Field(10.0, gt=0, le=300)
    retries: int = Field(3, ge=0, le=20)     # attempts after the first
    backoff_s: float = Field(1.0, ge=0, le=600)       # wait before the first retry, doubled each time
    backoff_max_s: float = Field(30.0, ge=0, le=3600)

    @field_validator("url_env", "secret_env", "password_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.fullmatch(v):
            raise ValueError(f"{v!r} is not an environment variable name")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: list[str] | None) -> list[str] | None:
        for rule in v or ():
            if rule not in ALERT_RULES:
                raise ValueError(f"unknown rule {rule!r} (known: {', '.join(ALERT_RULES)})")
        return v

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        for addr in v:
            if "@" not in addr:
                raise ValueError(f"{addr!r} is not an e-mail address")
        return v

    @model_validator(mode="after")
    def _complete(self) -> "NotifierConfig":
        if self.name is None:
            object.__setattr__(self, "name", self.type)
        if self.type in ("webhook", "slack") and (self.url is None) == (self.url_env is None):
            raise ValueError(f"a {self.type} notifier needs exactly one of url and url_env")
        if self.type == "webhook" and self.secret_env is None:
            raise ValueError("a webhook notifier needs secret_env (the variable holding its HMAC key)")
        if self.type == "email":
            if not self.host or not self.sender or not self.to:
                raise ValueError("an email notifier needs host, sender and to")
            if self.username and self.security == "none":
                raise ValueError("refusing to send an SMTP password without TLS (security: none)")
            if (self.username is None) != (self.password_env is None):
                raise ValueError("set both username and password_env, or neither")
        if not self.severities:
            raise ValueError("severities is empty: the notifier would receive nothing")
        if self.backoff_max_s < self.backoff_s:
            raise ValueError("backoff_max_s must be >= backoff_s")
        return self

    def accepts(self, rule: str, severity: str) -> bool:
        """Whether an alert of this rule and severity goes to this notifier."""
        return severity in self.severities and (self.rules is None or rule in self.rules)


class AlertsConfig(_Section):
    """Influencer alerts (:mod:`alerts`): one section per rule, then where they are sent."""

    enabled: bool = True
    influencer_negative: InfluencerNegativeAlert = InfluencerNegativeAlert()
    new_influencer: NewInfluencerAlert = NewInfluencerAlert()
    community_mood_drop: CommunityMoodDropAlert = CommunityMoodDropAlert()
    churn_risk: ChurnRiskAlert = ChurnRiskAlert()
    volume_spike: VolumeSpikeAlert = VolumeSpikeAlert()
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    delivery_threads: int = Field(4, ge=1, le=64)  # deliveries run beside the pipeline on this many threads

    @model_validator(mode="after")
    def _notifiers(self) -> "AlertsConfig":
        names = [n.name for n in self.notifiers]
        for i, n in enumerate(self.notifiers):
            if names.count(n.name) > 1:
                raise ValueError(f"notifiers.{i}: name {n.name!r} is used twice (give each a name)")
        return self


class TwitterListeningConfig(_Section):
    """Twitter/X crawler (:mod:`listening.connectors.twitter`); the bearer token is ``$AGORA_TWITTER_BEARER_TOKEN``."""

    brand_user_ids: list[str] = Field(default_factory=list)
    queries: list[str] = Field(default_factory=list)
    threads: bool = True
    max_pages: int = Field(5, ge=1, le=1000)
    max_results: int = Field(100, ge=10, le=100)
    max_threads: int = Field(20, ge=0, le=10_000)
    max_wait_s: float = Field(900.0, ge=0)
    max_retries: int = Field(4, ge=0, le=20)

    @field_validator("brand_user_ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for uid in v:
            if not str(uid).isdigit():
                raise ValueError(f"{uid!r} is not a numeric user id (the mentions endpoint needs ids, not @names)")
        return [str(u) for u in v]


class TelegramListeningConfig(_Section):
    """Telegram bot (:mod:`listening.connectors.telegram`); ``$AGORA_TELEGRAM_BOT_TOKEN``, ``$AGORA_TELEGRAM_SECRET_TOKEN``."""

    mode: Literal["polling", "webhook"] = "polling"
    max_pages: int = Field(10, ge=1, le=1000)
    max_wait_s: float = Field(60.0, ge=0)
    timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)


class WebhooksConfig(_Section):
    """The webhook receivers (:mod:`api.webhooks`) and their durable queue (a Redis stream)."""

    host: str = "127.0.0.1"
    port: int = Field(8787, ge=1, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/2"
    stream: str = "agora:webhooks"
    max_body_bytes: int = Field(1_000_000, ge=1024)
    keep_raw: int = Field(1_000_000, ge=1000)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return v


class ListeningConfig(_Section):
    """Live connectors: crawlers, webhook receivers, and how often the workers' beat crawls."""

    twitter: TwitterListeningConfig = TwitterListeningConfig()
    telegram: TelegramListeningConfig = TelegramListeningConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    crawl_interval_s: dict[str, float] = Field(default_factory=dict)

    @field_validator("crawl_interval_s")
    @classmethod
    def _intervals(cls, v: dict[str, float]) -> dict[str, float]:
        for name, seconds in v.items():
            if name not in BUILTIN_CRAWLERS:
                raise ValueError(f"unknown crawled source {name!r} (known: {', '.join(BUILTIN_CRAWLERS)}; "
                                 "schedule your own connectors in workers.crawls)")
            if seconds <= 0:
                raise ValueError(f"interval of {name!r} must be > 0")
        return v


class ApiConfig(_Section):
    """``agora serve``: the REST API and the dashboard. Keys: SHA-256 hex digests
    here, or plain keys in ``$AGORA_API_KEYS`` (comma-separated, hashed at start)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    keys_sha256: list[str] = Field(default_factory=list)
    map_people: int = Field(300, ge=10, le=5000)  # people drawn at most on the dashboard's map

    @field_validator("keys_sha256")
    @classmethod
    def _hashes(cls, v: list[str]) -> list[str]:
        for h in v:
            if len(h) != 64 or any(ch not in "0123456789abcdef" for ch in h.lower()):
                raise ValueError(f"{h[:12]!r}... is not a SHA-256 hex digest (64 hex digits; "
                                 "put plain keys in $AGORA_API_KEYS instead)")
        return [h.lower() for h in v]


class PrivacyConfig(_Section):
    """Erasure, pseudonymisation and retention (:mod:`graph.privacy`)."""

    pseudonymise_handles: bool = False
    pseudonym_secret: str | None = None  # only from $AGORA_PRIVACY__PSEUDONYM_SECRET
    retention_days: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _secret(self) -> "PrivacyConfig":
        if self.pseudonymise_handles and not self.pseudonym_secret:
            raise ValueError("pseudonymise_handles needs a key: set $AGORA_PRIVACY__PSEUDONYM_SECRET")
        return self


class Config(_Section):
    """The whole configuration. ``source`` is the file it was read from (or
    ``<defaults>``); relative paths in it are resolved against that file's folder."""

    graph: GraphConfig = GraphConfig()
    nlp: NlpConfig = NlpConfig()
    scoring: ScoringConfig = ScoringConfig()
    imports: ImportConfig = Field(ImportConfig(), alias="import")
    sample: SampleConfig = SampleConfig()
    workers: WorkersConfig = WorkersConfig()
    output: OutputConfig = OutputConfig()
    alerts: AlertsConfig = AlertsConfig()
    listening: ListeningConfig = ListeningConfig()
    api: ApiConfig = ApiConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    brand_accounts: list[str] = Field(default_factory=list)
    source: str = Field("<defaults>", exclude=True)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("brand_accounts")
    @classmethod
    def _brand(cls, v: list[str]) -> list[str]:
        for key in v:
            if ":" not in key:
                raise ValueError(f"{key!r} is not an account key 'platform:native_id'")
        return v

    @model_validator(mode="after")
    def _resolve_paths(self) -> "Config":
        if self.source.startswith("<"):
            return self
        base = Path(self.source).resolve().parent
        graph = self.graph.model_copy(update={"data_dir": _under(base, self.graph.data_dir)})
        output = self.output.model_copy(update={"dir": _under(base, self.output.dir)})
        sample = self.sample.model_copy(update={"dir": _under(base, self.sample.dir)})
        object.__setattr__(self, "nlp", self.nlp.model_copy(update={"cache_dir": _under(base, self.nlp.cache_dir)}))
        object.__setattr__(self, "sample", sample)
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "output", output)
        churn = self.scoring.churn.model_copy(update={"weights_file": _under(base, self.scoring.churn.weights_file)})
        object.__setattr__(self, "scoring", self.scoring.model_copy(update={"churn": churn}))
        return self


def _under(base: Path, p: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else base / p


def default_config_path() -> Path:
    """The ``config.yaml`` shipped beside the package (the repository's)."""
    return Path(__file__).resolve().parent.parent / "config.yaml"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """``AGORA_GRAPH__PASSWORD=x`` → ``{"graph": {"password": "x"}}``; values are YAML scalars."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("AGORA_") or "__" not in name:
            continue
        path = [part.lower() for part in name[len("AGORA_"):].split("__")]
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        # Secrets stay strings even when they look like numbers.
        secret = path[-1] in {"password", "token", "secret"} or path[-1].endswith(("_password", "_token", "_secret"))
        node[path[-1]] = raw if secret else value
    return out


def _env_name(overrides: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    """The environment variable that set the value at ``loc``, if one did."""
    node: Any = overrides
    for depth, part in enumerate(loc):
        if not isinstance(node, dict) or str(part) not in node:
            return None
        node = node[str(part)]
        if not isinstance(node, dict) or depth == len(loc) - 1:
            return "AGORA_" + "__".join(str(p).upper() for p in loc[: depth + 1])
    return None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read and validate the configuration.

    ``path`` wins over ``$AGORA_CONFIG``, then ``./config.yaml``, then the
    repository's ``config.yaml``. Raises :class:`ConfigError` naming the file,
    the dotted key and the reason for the first bad value.
    """
    environ = dict(os.environ if environ is None else environ)
    if path is None:
        path = environ.get("AGORA_CONFIG") or (Path("config.yaml") if Path("config.yaml").is_file() else default_config_path())
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "(file)", "no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(source, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "(file)", "must be a mapping of sections")
    overrides = _env_overrides(environ)
    data = _merge(data, overrides)
    try:
        return Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(file)"
        env_name = _env_name(overrides, err["loc"])
        if env_name:
            source = f"{source} (overridden by ${env_name})"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            reason = f"{reason} (got {err['input']!r})"
        raise ConfigError(source, key, reason) from None
