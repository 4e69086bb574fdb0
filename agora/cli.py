"""The ``agora`` command line.

Every command takes ``--config PATH`` (or ``$AGORA_CONFIG``); a bad value
stops it with one line naming the file, the key and the reason, and exit
code 2. ``--json`` prints machine-readable output on stdout; progress bars
and logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agora.config import Config, ConfigError, load_config

app = typer.Typer(
    name="agora",
    help=(
        "Agora: who influences whom in your customer community.\n\n"
        "Start with `agora run`: it starts a local graph server, imports the bundled sample "
        "community (or the PATHs you give), classifies sentiment, scores influence and prints "
        "each community with its influencers. Then explore with `agora people`, "
        "`agora communities` and `agora query`."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
graph_app = typer.Typer(help="Manage the embedded graph server (graph.uri: embedded).", no_args_is_help=True)
app.add_typer(graph_app, name="graph")
identities_app = typer.Typer(help="Identity resolution: one person behind several accounts (CRM mapping, merge, split).",
                             no_args_is_help=True)
app.add_typer(identities_app, name="identities")
churn_app = typer.Typer(help="Churn risk: learn its weights from your churn labels.", no_args_is_help=True)
app.add_typer(churn_app, name="churn")
from agora.sentiment_cli import sentiment_app  # noqa: E402  (its commands import agora.cli lazily)

app.add_typer(sentiment_app, name="sentiment")

err = Console(stderr=True)
out = Console()
log = logging.getLogger("agora")


class _State:
    config_path: Optional[Path] = None
    _config: Optional[Config] = None

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


state = _State()

ConfigOption = typer.Option(None, "--config", "-c", help="Config file (default: $AGORA_CONFIG, ./config.yaml, the bundled one).",
                            envvar="AGORA_CONFIG", show_envvar=True)
JsonOption = typer.Option(False, "--json", help="Print JSON on stdout.")


@app.callback()
def _main(config: Optional[Path] = ConfigOption,
          verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logs on stderr (-v info, -vv debug)."),
          ) -> None:
    state.config_path = config
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)],
                        force=True)
    for noisy in ("neo4j", "urllib3", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@contextmanager
def _store() -> Iterator[Any]:
    from agora.connections import open_store

    config = state.config()
    with err.status("connecting to the graph" + (" (starting the embedded server)" if config.graph.embedded else "")):
        store = open_store(config)
    try:
        yield store
    finally:
        store.close()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# -- the main job ---------------------------------------------------------------


@app.command()
def run(paths: list[Path] = typer.Argument(None, help="Files or folders to import instead of the bundled sample."),
        fmt: Optional[str] = typer.Option(None, "--format", help="Format of PATHs (detected when not given)."),
        json_out: bool = JsonOption) -> None:
    """Import, classify, score and report, in-process.

    Without PATHs it generates the bundled sample community (a fictional
    Italian coffee brand's customers on Twitter/X, WhatsApp, Telegram,
    Instagram and live chat) and imports that. Re-running is safe: nothing is
    imported twice. Results are also saved under output.dir (run.json).
    """
    from agora.report import run_pipeline

    config = state.config()
    with _store() as store, _one_rescore(config), _progress() as progress:
        summary = run_pipeline(store, config, paths or None, fmt=fmt, progress=progress)
    if json_out:
        _print_json(summary)
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    out.print(f"\n[bold]Agora[/bold]: {counts['people']} people, {counts['messages']} messages, "
              f"{counts['communities']} communities ({summary['new_interactions']} new interactions this run)\n")
    for c in summary["communities"]:
        mood = _mood(c["sentiment_mean"])
        table = Table(title=f"{c['id']} · {c['label']} · {c['size']} people · mood {mood}", title_justify="left",
                      show_edge=False)
        table.add_column("influencer")
        table.add_column("in community", justify="right")
        table.add_column("overall", justify="right")
        table.add_column("engagement", justify="right")
        table.add_column("sentiment", justify="right")
        table.add_column("accounts")
        for p in c["influencers"]:
            table.add_row(p["name"] or p["id"], _num(p["community_influence"], ".0f"), _num(p["influence"], ".0f"),
                          _num(p["intensity"], ".1f"), _mood(p["sentiment_mean"]), ", ".join(p["accounts"]))
        out.print(table)
        out.print()
    alerts = summary.get("alerts", [])
    out.print(f"[bold]Alerts raised this run[/bold]: {len(alerts)}" + ("" if alerts else " (none new)"))
    for a in alerts:
        out.print(f"  [{_SEVERITY_STYLE[a['severity']]}]{a['severity']:<8}[/] {a['title']}", highlight=False)
        out.print(f"           {a['reason']}", highlight=False, style="dim")
    out.print(f"\nSaved to {summary['saved_to']}")


_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _print_table(columns: Any, rows: Any) -> None:
    table = Table(show_edge=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out.print(table)


def _num(value: Optional[float], spec: str) -> str:
    """A score for a table cell; people with no interaction have none."""
    return "n/a" if value is None else format(value, spec)


def _mood(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    word = "positive" if value > 0.15 else "negative" if value < -0.15 else "mixed"
    return f"{value:+.2f} {word}"


@app.command("import")
def import_(path: Path = typer.Argument(..., help="A file or a folder of exports.", exists=True),
            fmt: Optional[str] = typer.Option(None, "--format", help="jsonl, csv, twitter-v1, twitter-v2, whatsapp or telegram; detected when not given."),
            json_out: bool = JsonOption) -> None:
    """Import interactions from exported files.

    Formats: generic JSONL/CSV (columns id, platform, kind, actor, target,
    timestamp, text, parent_id, conversation_id; or a bare actor,target edge
    list), Twitter/X archives (v1.1 statuses or v2 pages with includes),
    WhatsApp chat exports (.txt) and Telegram Desktop result.json. Bad records
    are reported with file:line and skipped; importing a file twice adds nothing.
    """
    from agora.pipeline import import_path

    config = state.config()
    with _store() as store, _progress() as progress:
        task = progress.add_task(f"import {path.name}", total=None)
        report = import_path(store, path, config, fmt=fmt, progress=lambda n: progress.advance(task, n))
    data = {"path": report.path, "read": report.read, "new": report.new, "skipped": len(report.issues),
            "issues": [str(i) for i in report.issues], "seconds": round(report.seconds, 2),
            "per_second": round(report.rate, 1)}
    if json_out:
        _print_json(data)
        return
    for issue in report.issues[:50]:
        err.print(f"[yellow]skipped[/yellow] {issue}", highlight=False)
    if len(report.issues) > 50:
        err.print(f"... and {len(report.issues) - 50} more")
    out.print(f"{report.read} interactions read, {report.new} new, {len(report.issues)} skipped "
              f"({report.rate:.0f}/s)")


@app.command()
def classify() -> None:
    """Classify the sentiment of every message that has none yet (nlp.model)."""
    from agora.pipeline import classify_pending

    config = state.config()
    with _store() as store, _progress() as progress:
        task = progress.add_task("classify", total=None)
        n = classify_pending(store, config, progress=lambda k: progress.advance(task, k),
                             total=lambda t: progress.update(task, total=t))
    out.print(f"{n} messages classified")


@app.command("score")
def score_(incremental: bool = typer.Option(False, "--incremental", help=(
        "After a small batch: keep communities, place newcomers by their neighbours, warm-start PageRank. "
        "Falls back to a full rescore when the batch touched more than scoring.incremental.max_changed_share "
        "of the people."))) -> None:
    """Recompute communities, influence, sway, susceptibility and churn risk from the stored interactions."""
    from agora.pipeline import rescore

    config = state.config()
    with _store() as store, _one_rescore(config):
        with err.status("scoring"):
            report = rescore(store, config, incremental=incremental)
    touched = f", {report.touched} people touched" if report.touched is not None else ""
    out.print(f"{len(report.result.people)} people in {len(report.result.communities)} communities "
              f"scored from {report.edges} interactions in {report.seconds:.1f} s ({report.mode}{touched})")


@app.command()
def explain(person: str = typer.Argument(..., help="A person id, an account key (platform:native_id) or a handle."),
            json_out: bool = JsonOption,
            top: int = typer.Option(10, "--top", min=1, help="Contributors listed each way."),
            trail: int = typer.Option(20, "--trail", min=1, help="Recent messages in the sentiment trail.")) -> None:
    """Why a person scores what they score: contributors, counts by kind, sentiment trail, churn factors, sway evidence.

    Example: agora explain twitter:1234 --json
    """
    from graph.explain import AmbiguousPerson, PersonNotFound, explain_person

    with _store() as store:
        try:
            data = explain_person(store, person, config=state.config(), top=top, trail=trail)
        except (PersonNotFound, AmbiguousPerson) as exc:
            err.print(f"agora: {exc}", highlight=False)
            raise typer.Exit(1)
    if json_out:
        _print_json(data)
        return
    p, s = data["person"], data["scores"]
    out.print(f"{p['name'] or p['id']} ({', '.join(a['key'] for a in p['accounts'])}) community {s['community'] or 'n/a'}")
    out.print(f"influence {_num(s['influence'], '.0f')} overall, {_num(s['community_influence'], '.0f')} in community; "
              f"engagement {_num(s['intensity'], '.1f')}; mood {_mood(s['sentiment_mean'])}")
    out.print(f"sway {_num(s['sway'], '+.2f')} ({s['sway_n'] or 0} responses), susceptibility "
              f"{_num(s['susceptibility'], '+.2f')} ({s['susceptibility_n'] or 0}); churn risk {_num(s['churn_risk'], '.2f')}")
    _print_table(("churn factor", "value", "part of risk"),
                 [(f, _num(v, ".2f"), _num((data["churn"]["parts"] or {}).get(f), ".2f"))
                  for f, v in data["churn"]["factors"].items()])
    _print_table(("attention from", "weight", "share", "count"),
                 [(c["name"] or c["id"], _num(c["weight"], ".2f"), _num(c["share"], ".0%"), str(c["count"]))
                  for c in data["contributors"]["in"]])
    out.print("sent: " + (", ".join(f"{k} {n}" for k, n in data["counts"]["sent"].items()) or "nothing")
              + "; received: " + (", ".join(f"{k} {n}" for k, n in data["counts"]["received"].items()) or "nothing"))
    _print_table(("when", "kind", "mood", "text"),
                 [(m["at"] or "", m["kind"] or "", _mood(m["polarity"]), m["text"] or "") for m in data["sentiment_trail"]])


@app.command()
def outreach(json_out: bool = JsonOption,
             limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many people.")) -> None:
    """People to contact now: influential and negative (calm), at churn risk (retain) or champions (thank), with the reason.

    Thresholds are under scoring.outreach in config.yaml. Example: agora outreach --limit 10 --json
    """
    from graph.outreach import outreach as find_outreach

    with _store() as store:
        rows = find_outreach(store, config=state.config(), limit=limit)
    if json_out:
        _print_json(rows)
        return
    _print_table(("action", "person", "priority", "reason"),
                 [(r["action"], r["name"] or r["id"], _num(r["priority"], ".2f"), r["reason"]) for r in rows])


# -- querying ---------------------------------------------------------------------


@app.command()
def people(top: int = typer.Option(10, "--top", "-n", min=1, help="How many people."),
           community: Optional[str] = typer.Option(None, "--community", "-C", help="Only this community (e.g. c1)."),
           json_out: bool = JsonOption) -> None:
    """The most influential people, overall or within one community."""
    from graph.queries import top_people

    with _store() as store:
        rows = top_people(store, top, community)
    if json_out:
        _print_json(rows)
        return
    _print_table(("person", "community", "in community", "overall", "engagement", "sentiment", "accounts"),
                 [(p["name"] or p["id"], p["community"] or "", _num(p["community_influence"], ".0f"),
                   _num(p["influence"], ".0f"), _num(p["intensity"], ".1f"), _mood(p["sentiment_mean"]),
                   ", ".join(p["accounts"])) for p in rows])


@app.command()
def communities(json_out: bool = JsonOption,
                members: bool = typer.Option(True, "--members/--no-members", help="List members' account keys (JSON).")) -> None:
    """Every community with its size, mood, top members and members (by account key)."""
    from graph.queries import communities as list_communities

    with _store() as store:
        rows = list_communities(store, members=members)
    if json_out:
        _print_json(rows)
        return
    _print_table(("community", "label", "size", "mood", "top members"),
                 [(c["id"], c["label"] or "", str(c["size"]), _mood(c["sentiment_mean"]),
                   ", ".join(p["name"] or p["id"] for p in c["top"])) for c in rows])


@app.command()
def query(cypher: str = typer.Argument(..., help="A read-only Cypher query."),
          param: list[str] = typer.Option(None, "--param", "-p", help="Query parameter NAME=VALUE (value parsed as JSON if it can be)."),
          limit: int = typer.Option(1000, "--limit", help="At most this many rows."),
          json_out: bool = JsonOption) -> None:
    """Run a read-only Cypher query against the graph.

    Runs in a read transaction that is rolled back; queries with write
    clauses (CREATE, MERGE, SET, DELETE, REMOVE, DROP, LOAD CSV, write
    procedures) are refused. Example:

      agora query "MATCH (p:Person) RETURN p.name, p.influence ORDER BY p.influence DESC LIMIT 5"
    """
    from graph.store import WriteQueryError

    params: dict[str, Any] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    with _store() as store:
        try:
            rows = store.read_query(cypher, params, limit=limit)
        except WriteQueryError as exc:
            err.print(f"agora: refused: {exc}", highlight=False)
            raise typer.Exit(2)
    if json_out:
        _print_json(rows)
        return
    if not rows:
        out.print("(no rows)")
        return
    _print_table([str(col) for col in rows[0]],
                 [[v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str) for v in row.values()]
                  for row in rows])


@app.command()
def alerts(since: Optional[datetime] = typer.Option(None, "--since", help="Only alerts raised at or after this time (ISO, UTC if no zone)."),
           limit: int = typer.Option(100, "--limit", min=1, help="At most this many, newest first."),
           ack: Optional[str] = typer.Option(None, "--ack", metavar="ALERT_ID", help="Acknowledge this alert instead of listing."),
           json_out: bool = JsonOption) -> None:
    """Influencer alerts raised so far (newest first), or acknowledge one.

    Alerts are raised by `agora run` (and the workers) after each scoring:
    an influential customer posting negatively, a new influencer in a
    community, a community whose mood drops, an influential customer at
    risk of churning, a volume spike. Rules and thresholds: the
    `alerts` section of config.yaml. With --json each alert lists its
    deliveries (notifier, sent or failed, attempts, last error).
    """
    from alerts.engine import acknowledge, list_alerts

    with _store() as store:
        if ack is not None:
            if not acknowledge(store, ack):
                err.print(f"agora: no alert {ack!r}", highlight=False)
                raise typer.Exit(1)
            out.print(f"acknowledged {ack}")
            return
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        rows = list_alerts(store, since=since, limit=limit)
    if json_out:
        _print_json(rows)
        return
    if not rows:
        out.print("(no alerts)")
        return
    _print_table(("raised", "severity", "alert", "ack", "id"),
                 [(f"{a['created_at']:%Y-%m-%d %H:%M}", a["severity"], a["title"], "yes" if a["acknowledged"] else "",
                   a["id"]) for a in rows])


@app.command()
def sample(directory: Path = typer.Argument(..., help="Where to write the sample files."),
           seed: Optional[int] = typer.Option(None, help="Generator seed (default: sample.seed)."),
           people: Optional[int] = typer.Option(None, help="Community size (default: sample.people).")) -> None:
    """Write the bundled sample community as export files (Twitter/X, WhatsApp, Telegram, JSONL)."""
    from agora.sample import generate_sample

    config = state.config()
    manifest = generate_sample(directory, seed=config.sample.seed if seed is None else seed,
                               people=config.sample.people if people is None else people)
    out.print(f"{manifest.interactions} interactions among {manifest.people} people in {len(manifest.files)} files "
              f"under {manifest.directory}")


# -- live listening and identities ------------------------------------------------


@app.command()
def crawl(source: Optional[str] = typer.Argument(None, help="twitter or telegram (default: every configured one)."),
          json_out: bool = JsonOption) -> None:
    """One crawl pass of the live sources, from where the last pass stopped.

    twitter: mentions of listening.twitter.brand_user_ids, recent search for
    listening.twitter.queries and their conversation threads; token in
    $AGORA_TWITTER_BEARER_TOKEN. telegram: getUpdates (listening.telegram.mode:
    polling); token in $AGORA_TELEGRAM_BOT_TOKEN. Cursors live in the graph;
    repeating a pass stores nothing twice. A rate limit that would need a long
    wait stops the source with exit code 75 (try again after the time shown).
    """
    import os

    from listening.connectors import REGISTRY, RateLimited, crawl as crawl_once
    from listening.connectors.telegram import TOKEN_ENV as TG_TOKEN
    from listening.connectors.twitter import TOKEN_ENV as TW_TOKEN

    config = state.config()
    pull = sorted(n for n, f in REGISTRY.items() if not f(config).push)
    if source is not None and source not in pull:
        raise typer.BadParameter(f"{source!r} is not a crawled source (known: {', '.join(pull)}; "
                                 "whatsapp and meta arrive through `agora listen`)", param_hint="SOURCE")
    configured = {"twitter": bool(os.environ.get(TW_TOKEN)) and bool(config.listening.twitter.brand_user_ids
                                                                      or config.listening.twitter.queries),
                  "telegram": bool(os.environ.get(TG_TOKEN)) and config.listening.telegram.mode == "polling"}
    names = [source] if source else [n for n in pull if configured.get(n)]
    if not names:
        err.print("agora: nothing to crawl: set $AGORA_TWITTER_BEARER_TOKEN with listening.twitter ids or queries, "
                  "or $AGORA_TELEGRAM_BOT_TOKEN with listening.telegram.mode: polling", highlight=False)
        raise typer.Exit(2)
    shared = _shared_redis(config)
    results, code = [], 0
    with _store() as store:
        for name in names:
            try:
                if shared is None:
                    r = crawl_once(REGISTRY[name](config), store, brand_accounts=config.brand_accounts)
                else:  # under the workers' lock and rate-limit budget: never the same page as a worker
                    from workers.crawl import crawl_once as crawl_shared

                    r = crawl_shared(config, name, store, shared)
                    if r.busy:
                        results.append({"source": name, "busy": "a worker is crawling it now"})
                        continue
                results.append({"source": name, "pages": r.pages, "read": r.read, "new": r.new})
            except RateLimited as exc:
                when = datetime.fromtimestamp(exc.reset_at, timezone.utc).isoformat(timespec="seconds")
                results.append({"source": name, "rate_limited_until": when})
                code = 75
    if json_out:
        _print_json(results)
    else:
        for r in results:
            if "busy" in r:
                out.print(f"{r['source']}: skipped, {r['busy']}")
            elif "rate_limited_until" in r:
                out.print(f"{r['source']}: rate limited until {r['rate_limited_until']}; what was read is stored, "
                          "the next pass resumes at the refused page")
            else:
                out.print(f"{r['source']}: {r['pages']} pages, {r['read']} interactions read, {r['new']} new")
    raise typer.Exit(code)


@contextmanager
def _one_rescore(config: Config) -> Iterator[None]:
    """Hold the workers' rescore lock (when their Redis answers), so a rescore here never
    overlaps one in a worker: overlapping rescores would delete each other's communities."""
    from workers.limits import one_rescore_at_a_time

    client = _shared_redis(config)
    if client is None:  # no workers' Redis: nothing to overlap with
        yield
        return
    w = config.workers
    with one_rescore_at_a_time(client, lease_s=w.task_time_limit_s, wait_s=w.task_time_limit_s / 2):
        yield


def _shared_redis(config: Config) -> Any:
    """The workers' Redis (their crawl and rescore locks, rate-limit budgets) if one is configured
    and answering, else None."""
    import redis

    from workers.limits import shared_redis_url

    url = shared_redis_url(config.workers.broker_url, config.workers.result_backend)
    if url is None:
        return None
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        log.info("Redis at %s does not answer: going on without the workers' locks and budgets", url)
        return None
    return client


@app.command()
def listen(host: Optional[str] = typer.Option(None, "--host", help="Bind address (default: listening.webhooks.host)."),
           port: Optional[int] = typer.Option(None, "--port", help="Port (default: listening.webhooks.port)."),
           process: bool = typer.Option(True, "--process/--no-process",
                                        help="Also store what arrives (else only receive; run `agora listen --process-only` elsewhere)."),
           process_only: bool = typer.Option(False, "--process-only", help="Only store what the receivers queued; no HTTP.")) -> None:
    """Run the webhook receivers: WhatsApp Business, Meta (Page, Instagram, Messenger), Telegram.

    Routes: GET/POST /webhooks/whatsapp, GET/POST /webhooks/meta, POST
    /webhooks/telegram. Secrets only from the environment: AGORA_META_APP_SECRET,
    AGORA_META_VERIFY_TOKEN (AGORA_WHATSAPP_APP_SECRET / _VERIFY_TOKEN if
    WhatsApp is another app), AGORA_TELEGRAM_SECRET_TOKEN. A payload is
    answered 200 only once it is in the Redis stream listening.webhooks.stream;
    it is stored in the graph right after, by this process or by
    `agora listen --process-only`.
    """
    config = state.config()
    w = config.listening.webhooks
    if process_only:
        import signal
        import threading

        from listening.inbox import Inbox, run_processor

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with _store() as store:
            err.print(f"processing {w.stream} on {w.redis_url} into the graph (Ctrl-C stops)", highlight=False)
            try:
                run_processor(Inbox.from_config(config), store, stop, brand_accounts=config.brand_accounts)
            except KeyboardInterrupt:
                stop.set()
        return
    import uvicorn

    from api.webhooks import create_webhook_app

    uvicorn.run(create_webhook_app(config, process=process), host=host or w.host, port=port or w.port,
                log_level="info", proxy_headers=True)


@identities_app.command("import")
def identities_import(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CRM mapping CSV."),
                      json_out: bool = JsonOption) -> None:
    """Link accounts to CRM customers from a CSV: customer_id, platform, handle, phone, email.

    Only exact identifiers link: a handle that is the account's id or its
    unique @username (Twitter/X, Instagram, Mastodon, Bluesky), a phone number
    with its country code (it is the WhatsApp account), an e-mail address.
    Display names never do. Each link keeps its evidence, file and line.
    Re-running changes nothing; accounts merged or split by hand stay put.
    """
    from graph.identity import import_crm

    with _store() as store:
        report = import_crm(store, path)
    data = {"rows": report.rows, "linked": report.linked, "unchanged": report.unchanged,
            "unmatched": report.unmatched, "pinned": report.pinned, "conflicts": report.conflicts,
            "issues": [str(i) for i in report.issues]}
    if json_out:
        _print_json(data)
        return
    for issue in report.issues:
        err.print(f"[yellow]skipped[/yellow] {issue}", highlight=False)
    for line in report.conflicts:
        err.print(f"[red]conflict[/red] {line}", highlight=False)
    for line in report.pinned + report.unmatched:
        err.print(f"[dim]{line}[/dim]", highlight=False)
    out.print(f"{report.rows} rows: {report.linked} accounts linked, {report.unchanged} unchanged, "
              f"{len(report.unmatched)} unmatched, {len(report.conflicts)} conflicts, {len(report.issues)} bad rows")


@app.command()
def merge(a: str = typer.Argument(..., help="Account key (platform:native_id) or person id that stays."),
          b: str = typer.Argument(..., help="Account key or person id whose accounts move to A's person."),
          reason: Optional[str] = typer.Option(None, "--reason", help="Why: kept as evidence on the link.")) -> None:
    """Merge two people: every account of B's person moves to A's person.

    Example: agora merge twitter:2244994945 whatsapp:+393331234567 --reason "same customer, confirmed by phone"
    """
    from graph.identity import IdentityError, merge as merge_people

    with _store() as store:
        try:
            result = merge_people(store, a, b, reason=reason)
        except IdentityError as exc:
            err.print(f"agora: {exc}", highlight=False)
            raise typer.Exit(1)
    if not result.moved:
        out.print(f"{a} and {b} are already one person ({result.person})")
    else:
        out.print(f"moved {', '.join(result.moved)} to {result.person}; removed {result.removed}. "
                  "Scores update at the next `agora score`.")


@app.command()
def split(account: str = typer.Argument(..., help="Account key (platform:native_id) to detach."),
          reason: Optional[str] = typer.Option(None, "--reason", help="Why: kept as evidence on the link.")) -> None:
    """Give one account a person of its own again (undoes a merge or a CRM link; later imports keep it apart)."""
    from graph.identity import IdentityError, split as split_account

    with _store() as store:
        try:
            result = split_account(store, account, reason=reason)
        except IdentityError as exc:
            err.print(f"agora: {exc}", highlight=False)
            raise typer.Exit(1)
    out.print(f"{account} is its own person ({result.person})" if result.moved else
              f"{account} already has a person of its own ({result.person})")


# -- API, export and privacy ----------------------------------------------------------


@app.command()
def serve(host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default: api.host, 127.0.0.1)."),
          port: Optional[int] = typer.Option(None, "--port", help="Port (default: api.port, 8000).")) -> None:
    """Serve the REST API and the dashboard.

    Open http://HOST:PORT/dashboard/ for the dashboard and /docs for the API.
    Every route but /health needs an API key: set plain keys in
    $AGORA_API_KEYS (comma-separated) or their SHA-256 digests in
    api.keys_sha256. Example:

      AGORA_API_KEYS=$(openssl rand -hex 16) agora serve --port 8000
    """
    import uvicorn

    from api.app import create_app

    config = state.config()
    application = create_app(config)
    uvicorn.run(application, host=host or config.api.host, port=port or config.api.port, log_level="info")


@app.command("export")
def export_(path: Path = typer.Argument(..., help="File to write (e.g. agora.gexf)."),
            fmt: Optional[str] = typer.Option(None, "--format", help="gexf or graphml (default: from PATH's suffix).")) -> None:
    """Export people, communities, scores and interactions for Gephi (GEXF 1.2) or any GraphML tool."""
    from graph.export import FORMATS, export_graph

    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not a format; use gexf or graphml", param_hint="--format")
    with _store() as store:
        data, nodes, edges = export_graph(store, fmt)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    out.print(f"{nodes} people and {edges} interactions written to {path} ({fmt})")


@app.command()
def forget(person: str = typer.Argument(..., help="A person id or one of their account keys (platform:native_id)."),
           yes: bool = typer.Option(False, "--yes", help="Do not ask."),
           json_out: bool = JsonOption) -> None:
    """Erase a person (GDPR art. 17): the person, their accounts and messages,
    alerts about them, and quotes of their messages in other alerts.

    Mentions of their handles in others' messages become [erased]. Safe to
    repeat. Scores of the others change at the next `agora score`.
    """
    from graph.privacy import forget_person, resolve_person

    with _store() as store:
        pid = resolve_person(store, person)
        if pid is None:
            err.print(f"agora: no person or account {person!r}", highlight=False)
            raise typer.Exit(1)
        if not yes:
            typer.confirm(f"Erase {pid} and everything they wrote?", abort=True)
        report = forget_person(store, pid)
    if json_out:
        _print_json({"person": pid, "erased": report})
        return
    out.print(f"erased {pid}: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.items()))


@app.command()
def retention(days: Optional[float] = typer.Option(None, "--days", min=0.001, help="Keep text this many days (default: privacy.retention_days)."),
              json_out: bool = JsonOption) -> None:
    """Delete message text older than N days; keep sentiment, counts and interactions.

    Scores and mood over time do not change. Run it daily (cron or the
    workers' beat); re-running it is safe.
    """
    from graph.privacy import apply_retention

    days = days if days is not None else state.config().privacy.retention_days
    if days is None:
        err.print("agora: no retention period: give --days N or set privacy.retention_days", highlight=False)
        raise typer.Exit(2)
    with _store() as store:
        report = apply_retention(store, days)
    if json_out:
        _print_json(report)
        return
    out.print(f"text removed from {report['messages']} messages older than {days:g} days "
              f"({report['alert_quotes']} alert quotes)")


# -- workers ------------------------------------------------------------------------


def _celery_argv(extra: list[str]) -> None:
    import os

    if state.config_path is not None:
        os.environ["AGORA_CONFIG"] = str(state.config_path)
    state.config()  # fail early, in one line, on a bad config
    from workers.app import app as celery_app

    celery_app.start(extra)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context,
           concurrency: int = typer.Option(2, "--concurrency", help="Worker processes."),
           loglevel: str = typer.Option("INFO", "--loglevel"),
           metrics_port: int | None = typer.Option(
               None, "--metrics-port", min=1, max=65535,
               help="Serve Prometheus metrics on http://127.0.0.1:PORT/metrics (tasks done/failed, "
                    "interactions ingested, queue lag), summed over the pool processes.")) -> None:
    """Run a Celery worker for the pipeline tasks (broker: workers.broker_url).

    Extra options are passed to `celery worker` (e.g. -Q QUEUE, --pool=threads).
    Task events are on, so Flower (`celery -A workers.app flower`) shows every task.
    """
    if metrics_port is not None:
        import os
        import tempfile

        os.environ["AGORA_METRICS_PORT"] = str(metrics_port)
        # prometheus_client's multiprocess mode: each pool process writes its own files here.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="agora-metrics-"))
    _celery_argv(["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "-E", *ctx.args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context, loglevel: str = typer.Option("INFO", "--loglevel")) -> None:
    """Run the Celery beat scheduler (rescore every workers.rescore_interval_s)."""
    _celery_argv(["beat", f"--loglevel={loglevel}", *ctx.args])


# -- the embedded graph server ------------------------------------------------------


def _embedded() -> Any:
    from agora.connections import embedded_server

    config = state.config()
    if not config.graph.embedded:
        err.print(f"agora: graph.uri is {config.graph.uri}; the embedded server is not used", highlight=False)
        raise typer.Exit(2)
    return embedded_server(config)


@graph_app.command("start")
def graph_start() -> None:
    """Start the embedded graph server (no-op if it runs)."""
    server = _embedded()
    with err.status("starting the embedded graph server"):
        started = time.perf_counter()
        status = server.start(timeout_s=state.config().graph.start_timeout_s)
    out.print(f"{status} ({time.perf_counter() - started:.1f} s)")


@graph_app.command("stop")
def graph_stop() -> None:
    """Stop the embedded graph server."""
    out.print(str(_embedded().stop()))


@graph_app.command("status")
def graph_status(json_out: bool = JsonOption) -> None:
    """Is the embedded graph server running, and where."""
    status = _embedded().status()
    if json_out:
        _print_json({"running": status.running, "pid": status.pid, "uri": status.bolt_uri,
                     "data_dir": str(status.data_dir), "log": str(status.log_file)})
    else:
        out.print(str(status))
    if not status.running:
        raise typer.Exit(1)


@graph_app.command("reset")
def graph_reset(yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Delete everything in the graph (any server the config points at)."""
    if not yes:
        typer.confirm("Delete every node and relationship in the graph?", abort=True)
    with _store() as store:
        store.clear()
    out.print("graph emptied")


@churn_app.command("fit")
def churn_fit(labels: Path = typer.Argument(..., exists=True, dir_okay=False,
                                            help="CSV with a header: person_id,churned (1 churned, 0 stayed).")) -> None:
    """Fit churn weights (logistic regression over the churn factors) on your labels.

    person_id may be a person id, an account key or a handle. The factors are
    those of the last `agora score`; the weights are saved to
    scoring.churn.weights_file and used from the next `agora score` on.
    Prints the fitted model's AUC (in-sample and cross-validated) beside the
    default formula's AUC on the same labels. Delete the file to go back to
    the formula.
    """
    from graph.churn_labels import fit_labels

    config = state.config()
    with _store() as store:
        try:
            report = fit_labels(store, labels, weights_file=config.scoring.churn.weights_file)
        except ValueError as exc:
            err.print(f"agora: {exc}", highlight=False)
            raise typer.Exit(2)
    for issue in report.issues[:50]:
        err.print(f"skipped {issue}", highlight=False)
    m = report.model
    out.print(f"{m['labels']} labels ({m['churned']} churned): AUC fitted {m['auc']:.3f} in-sample, "
              f"{m['cv_auc']:.3f} cross-validated; formula {m['formula_auc']:.3f}")
    out.print("weights: " + ", ".join(f"{k} {v:+.2f}" for k, v in m["coefficients"].items())
              + f", intercept {m['intercept']:+.2f}")
    out.print(f"saved to {report.saved_to}; run `agora score` to apply")


def main() -> None:
    """Console-script entry point: one-line errors for bad configs and unreachable servers."""
    from neo4j.exceptions import AuthError, ServiceUnavailable

    from graph.server import GraphServerError

    try:
        app()
    except ConfigError as exc:
        err.print(f"agora: config error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (GraphServerError, ServiceUnavailable, AuthError) as exc:
        reason = " ".join(str(exc).split())  # the driver's messages span lines
        err.print(f"agora: graph server: {reason}", highlight=False, soft_wrap=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
