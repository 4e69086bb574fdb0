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
    with _store() as store, _progress() as progress:
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
def score_() -> None:
    """Recompute communities and influence from the stored interactions."""
    from agora.pipeline import rescore

    config = state.config()
    with _store() as store:
        with err.status("scoring"):
            report = rescore(store, config)
    out.print(f"{len(report.result.people)} people in {len(report.result.communities)} communities "
              f"scored from {report.edges} interactions in {report.seconds:.1f} s")


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
    community, a community whose mood drops. Rules and thresholds: the
    `alerts` section of config.yaml.
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
