"""A tiny pull connector for the crawl tests, shaped like ``listening.connectors``' Protocol.

It serves :data:`PAGES` pages of :data:`PER_PAGE` interactions each; the
cursor is the last page number served. Every fetch is recorded in Redis (list
``$FAKE_FETCH_LOG`` on ``$FAKE_REDIS_URL``) so a test can see which process
fetched which page, and takes ``$FAKE_FETCH_DELAY_S`` seconds, like a network call.

Run as ``python -m tests.workers.fake_connector CONFIG NAME`` it does one
crawl pass (:func:`workers.crawl.crawl_once`) and prints its result as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import redis

from agora.records import AccountRef, Interaction, Kind

PAGES, PER_PAGE = 6, 50
T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Page:
    raw: Any
    cursor: str | None = None


class FakeConnector:
    name = "fake"
    platform = "fake"
    push = False

    def __init__(self) -> None:
        self.log = redis.Redis.from_url(os.environ["FAKE_REDIS_URL"], socket_timeout=10)
        self.key = os.environ.get("FAKE_FETCH_LOG", "issue7:fake:fetched")
        self.delay = float(os.environ.get("FAKE_FETCH_DELAY_S", "0.05"))

    def fetch(self, cursor: str | None) -> Iterator[Page]:
        start = 0 if cursor is None else int(cursor) + 1
        for page in range(start, PAGES):
            time.sleep(self.delay)
            self.log.rpush(self.key, f"{os.getpid()}:{page}")
            rows = [{"id": page * PER_PAGE + i, "actor": f"u{(page + i) % 17}", "target": f"u{(page * 3 + i) % 13}"}
                    for i in range(PER_PAGE)]
            yield Page({"page": page, "rows": rows}, cursor=str(page))

    def to_interactions(self, raw: Any) -> list[Interaction]:
        out = []
        for row in raw["rows"]:
            actor = AccountRef("fake", row["actor"])
            target = AccountRef("fake", row["target"])
            out.append(Interaction(id=f"fake:{row['id']}", platform="fake", kind=Kind.REPLY, actor=actor,
                                   timestamp=T0 + timedelta(minutes=row["id"]),
                                   targets=(target,) if target != actor else (), source="fake"))
        return out


def make(_config: Any = None) -> FakeConnector:
    return FakeConnector()


def main(argv: list[str]) -> None:
    from agora.config import load_config
    from agora.connections import open_store
    from workers.crawl import crawl_once

    config = load_config(argv[0])
    store = open_store(config)
    client = redis.Redis.from_url(os.environ["FAKE_REDIS_URL"], socket_timeout=10)
    try:
        print(json.dumps(asdict(crawl_once(config, argv[1], store, client))))
    finally:
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
