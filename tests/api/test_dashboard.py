"""The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by playwright;
no browser is downloaded), over the API serving the sample community.

Each page is loaded with real data, checked for visible content and for
console errors, and saved as a screenshot; the paths are printed (``-s``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ApiServer

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: bash scripts/setup.sh --dev installs Debian's chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screenshots")


class Tab:
    """One browser page that records console errors and uncaught exceptions."""

    def __init__(self, browser: object, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, route: str, key: str | None = None) -> None:
        self.page.goto(f"{self.base}/dashboard/{'?key=' + key if key else ''}#/{route}")

    def ready(self, name: str) -> None:
        self.page.wait_for_selector(f'body[data-ready="{name}"]', timeout=30_000)

    def shot(self, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


def canvas_ink(tab: Tab, selector: str) -> int:
    """How many pixels of the canvas are not white/transparent."""
    return tab.page.evaluate("""(sel) => {
        const c = document.querySelector(sel); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;
        return n; }""", selector)


def test_every_page_shows_real_data_without_console_errors(api_server: ApiServer, browser: object, shots: Path) -> None:
    with api_server.client() as c:
        top = c.get("/api/people", params={"limit": 50}).json()
        communities = c.get("/api/communities").json()
        alerts = c.get("/api/alerts").json()
    tab = Tab(browser, api_server.url)

    tab.open("map", key=api_server.key)
    tab.ready("map")
    assert "key=" not in tab.page.url  # the key is taken from the URL and kept in sessionStorage only
    assert f"of {top['total']} people" in tab.page.inner_text("#map-note")
    assert canvas_ink(tab, "#map-canvas") > 5000
    assert len(tab.page.query_selector_all("#map-legend span")) == len(communities)
    tab.shot(shots, "map")

    tab.page.select_option("#map-colour", "sentiment")
    tab.page.select_option("#map-view", "communities")
    tab.page.wait_for_function("document.querySelector('#map-note').textContent.includes('communities of')")
    assert canvas_ink(tab, "#map-canvas") > 1000
    tab.shot(shots, "map-communities-by-sentiment")

    tab.open("influencers")
    tab.ready("influencers")
    rows = tab.page.query_selector_all("#people-table tbody tr")
    assert len(rows) == len(top["items"])
    assert rows[0].inner_text().startswith(top["items"][0]["name"])
    assert f"of {top['total']}" in tab.page.inner_text("#page-note")
    tab.shot(shots, "influencers")

    tab.page.select_option("select[name=community]", communities[0]["id"])
    tab.page.click("#people-filter button[type=submit]")
    tab.page.wait_for_function(f"document.querySelector('#page-note').textContent.endsWith('of {communities[0]['size']}')")

    tab.open("trends")
    tab.ready("trends")
    assert canvas_ink(tab, "#trend-canvas") > 2000
    assert len(tab.page.query_selector_all("#trend-table tbody tr")) == len(communities)
    tab.shot(shots, "trends")

    tab.open("alerts")
    tab.ready("alerts")
    cards = tab.page.query_selector_all("article.alert")
    assert len(cards) == len(alerts) > 0
    assert alerts[0]["title"] in cards[0].inner_text()
    tab.shot(shots, "alerts")

    person = top["items"][0]
    tab.open(f"person/{person['id']}")
    tab.ready("person")
    assert tab.page.inner_text("main h1").strip() == person["name"]
    assert len(tab.page.query_selector_all("main li")) > 3
    assert person["accounts"][0] in tab.page.inner_text("main")
    tab.shot(shots, "person")

    tab.page.click("main .card a[href^='#/person/']")  # a contact: the person page follows links
    tab.ready("person")

    with api_server.client() as c:
        outreach = c.get("/api/outreach", params={"limit": 50}).json()
    tab.open("outreach")
    tab.ready("outreach")
    rows = tab.page.query_selector_all("#outreach tbody tr")
    assert len(rows) == len(outreach) > 0
    assert outreach[0]["reason"] in rows[0].inner_text()
    tab.shot(shots, "outreach")

    assert tab.errors == []
    tab.page.close()


def test_acknowledge_from_the_alert_feed(api_server: ApiServer, browser: object) -> None:
    tab = Tab(browser, api_server.url)
    tab.open("alerts", key=api_server.key)
    tab.ready("alerts")
    before = len(tab.page.query_selector_all("button[data-ack]"))
    assert before > 0
    tab.page.click("button[data-ack]")
    tab.page.wait_for_function(f"document.querySelectorAll('button[data-ack]').length === {before - 1}")
    with api_server.client() as c:
        assert sum(a["acknowledged"] for a in c.get("/api/alerts").json()) == 1
    assert tab.errors == []
    tab.page.close()


def test_sign_in_box(api_server: ApiServer, browser: object, shots: Path) -> None:
    tab = Tab(browser, api_server.url)
    tab.open("map")
    tab.ready("login")
    assert tab.page.is_visible("#login-form") and tab.page.inner_text("#view") == ""
    tab.shot(shots, "login")
    tab.page.fill("#key", "wrong-key")
    tab.page.click("#login-form button")
    tab.page.wait_for_function("document.querySelector('#login-error').textContent.includes('refused')")
    assert any("401" in e for e in tab.errors)  # the refused request, and nothing else
    tab.errors.clear()
    tab.page.fill("#key", api_server.key)
    tab.page.click("#login-form button")
    tab.ready("map")
    assert not tab.page.is_visible("#login-form")
    assert tab.errors == []
    tab.page.close()
