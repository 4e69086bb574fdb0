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
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["Config", "ConfigError", "AlertsConfig", "load_config", "default_config_path"]

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


class ScoringConfig(_Section):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"share": 2.0, "quote": 1.5, "reply": 1.0, "mention": 0.5, "message": 1.0, "reaction": 0.3, "post": 0.0}
    )
    half_life_days: float = Field(30.0, gt=0)
    resolution: float = Field(1.0, gt=0)
    seed: int = 42
    top_n: int = Field(5, ge=1, le=1000)

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


class CrawlConfig(_Section):
    """One scheduled source: ``workers.crawls.<name>``; the connector is ``connector`` (``module:factory``)."""

    connector: str
    interval_s: float | None = Field(None, gt=0)   # null: workers.crawl_interval_s
    requests: int = Field(60, ge=1)                # shared rate-limit budget: at most this many fetches
    per_s: float = Field(60.0, gt=0)               # ... per this many seconds, across all workers
    page_size: int = Field(500, ge=1, le=100_000)  # interactions written per graph batch

    @field_validator("connector")
    @classmethod
    def _factory(cls, v: str) -> str:
        module, _, attr = v.partition(":")
        if not module or not attr:
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
    crawl_interval_s: float = Field(300.0, gt=0)
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

    def crawl_every(self, source: str) -> float:
        """Seconds between scheduled crawls of ``source``."""
        crawl = self.crawls.get(source)
        return crawl.interval_s if crawl and crawl.interval_s else self.crawl_interval_s


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


class AlertsConfig(_Section):
    """Influencer alerts (:mod:`alerts`): one section per rule."""

    enabled: bool = True
    influencer_negative: InfluencerNegativeAlert = InfluencerNegativeAlert()
    new_influencer: NewInfluencerAlert = NewInfluencerAlert()
    community_mood_drop: CommunityMoodDropAlert = CommunityMoodDropAlert()


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
        object.__setattr__(self, "sample", sample)
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "output", output)
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
        node[path[-1]] = raw if path[-1] in {"password", "token", "secret"} else value
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
