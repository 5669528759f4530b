"""Ingesting real Spanish news pages from a loopback HTTP server: feeds, sitemaps, rounds,
updates, failures, `watch` stopped mid-round, and the command line.

The pages are ../shared/eval/trafilatura-es-news (skipped when absent), served from a temporary
folder by tests/loopback_site.py; the index is a real Chroma store with the real model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index import NewsIndex, watch
from tests.conftest import SHARED, make_settings
from tests.loopback_site import Site
from tests.scripts import load_script

# Short pages (fast to embed) whose publication dates the evaluation data records.
PAGES = ["minuto30-lasierra", "elcomercio.pe-kenjifujimori", "biobiochile.cl-gremios", "ultimasnoticias.com.ve-ucraina"]

EVAL_DIR = SHARED / "eval" / "trafilatura-es-news"
pytestmark = pytest.mark.slow


@pytest.fixture
def news_site(shared_dir: Path, tmp_path: Path) -> Iterator[tuple[Site, dict[str, str]]]:
    """The site serving PAGES (listed by /feed.xml and /sitemap.xml) and each page's true date by URL."""
    folder = shared_dir / "eval" / "trafilatura-es-news"
    truth = _truth()
    with Site(tmp_path / "site") as site:
        site.slow_seconds = 2.5
        dates = {}
        for name in PAGES:
            path = site.add_page(f"{name}.html", (folder / "html" / f"{name}.html").read_bytes())
            dates[site.url(path)] = truth[f"{name}.html"]["date"]
        yield site, dates


def _truth() -> dict[str, dict[str, Any]]:
    """The evaluation record of each page, by file name."""
    records = json.loads((EVAL_DIR / "evaldata.json").read_text(encoding="utf-8")).values()
    return {e["file"]: e for e in records}


def web_index(store: Path, **overrides: object) -> NewsIndex:
    settings = make_settings(store, allow_private_urls=True, fetch_delay=0.0, fetch_timeout=1.0, **overrides)
    return NewsIndex(store, settings=settings)


def test_feed_rounds_update_and_failures(news_site: tuple[Site, dict[str, str]], tmp_path: Path) -> None:
    site, dates = news_site
    index = web_index(tmp_path / "store")
    feed = site.url("/feed.xml")

    first = index.ingest([feed])
    assert sorted(first.added) == sorted(dates) and first.skipped == []
    stored = {a.source: a for a in index.list_articles(limit=100)}
    assert {source: a.date for source, a in stored.items()} == dates  # publication dates, URLs as sources
    assert all(a.title and a.outlet for a in stored.values())
    hit = index.search("Keiko Fujimori", k=1)[0]
    assert hit.url in dates and hit.url == hit.source

    # Second round: nothing new, and the pages are asked "modified since?" (304), not downloaded.
    requests_before = len(site.requests)
    second = index.ingest([feed])
    assert (second.added, second.updated, sorted(second.unchanged)) == ([], [], sorted(dates))
    assert second.chunks == 0
    page_requests = [h for p, h in site.requests[requests_before:] if p.startswith("/pages/")]
    assert len(page_requests) == len(dates) and all("if-modified-since" in h for h in page_requests)

    # A changed page is updated; a 404 and a timeout in the feed are reported; the rest goes in.
    changed = site.feed_pages[0]
    html = (site.root / changed.lstrip("/")).read_bytes()
    body_snippet = _truth()[PAGES[0] + ".html"]["with"][0].encode()
    assert body_snippet in html
    site.touch(changed, html.replace(body_snippet, body_snippet + b" (actualizado)", 1))
    site.feed_pages += ["/pages/borrada.html", "/slow/lenta.html"]
    third = index.ingest([feed])
    assert third.updated == [site.url(changed)] and third.added == []
    assert sorted(third.unchanged) == sorted(set(dates) - {site.url(changed)})
    reasons = dict(third.skipped)
    assert reasons == {site.url("/pages/borrada.html"): "HTTP 404", site.url("/slow/lenta.html"): "timed out after 1 s"}
    assert index.stats()["articles"] == len(dates)


def test_a_private_address_is_refused_by_default(news_site: tuple[Site, dict[str, str]], tmp_path: Path) -> None:
    site, _ = news_site
    store = tmp_path / "store"
    index = NewsIndex(store, settings=make_settings(store))
    report = index.ingest([site.url("/feed.xml")])
    assert report.added == [] and site.requests == []
    [(url, reason)] = report.skipped
    assert url == site.url("/feed.xml") and "non-public address (127.0.0.1)" in reason


def test_sitemap_and_a_folder_together(news_site: tuple[Site, dict[str, str]], tmp_path: Path) -> None:
    site, dates = news_site
    index = web_index(tmp_path / "store")
    folder = tmp_path / "articles"
    shutil.copytree(Path(__file__).parents[1] / "examples" / "articles", folder)
    report = index.ingest([site.url("/sitemap.xml"), folder], prune=True)
    assert len(report.added) == len(dates) + 6 and report.skipped == []
    # Pruning by folder never removes web articles.
    assert index.ingest([folder], prune=True).removed == []


def test_watch_stopped_mid_round_then_restarted(news_site: tuple[Site, dict[str, str]], tmp_path: Path) -> None:
    site, dates = news_site
    store = tmp_path / "store"
    index = web_index(store)
    stop = threading.Event()
    pages_seen: list[str] = []

    def stop_at_second_page(path: str) -> None:
        if path.startswith("/pages/"):
            pages_seen.append(path)
            if len(pages_seen) == 2:
                stop.set()  # as SIGTERM does in `newsbot watch`

    site.on_request = stop_at_second_page
    rounds = watch(index, [site.url("/feed.xml")], every=1.0, stop=stop, max_rounds=5)
    # Fetching stopped after the second page; what was fetched is written whole (or, past a
    # write batch, left for the next run).
    assert len(rounds) == 1 and 1 <= rounds[0].new <= 2
    articles = index.store.articles()
    assert len(articles) == rounds[0].new and all(a.complete for a in articles.values())
    done = rounds[0].new

    site.on_request = None
    stored_urls = {a.source for a in articles.values()}
    restarted = web_index(store)
    seen_before = len(site.requests)
    again = watch(restarted, [site.url("/feed.xml")], every=0.1, stop=threading.Event(), max_rounds=2)
    # The restart remembers what it stored: those pages are only asked "modified since?".
    first_round = [(p, h) for p, h in site.requests[seen_before:] if p.startswith("/pages/")][: len(dates)]
    assert {site.url(p) for p, h in first_round if "if-modified-since" in h} == stored_urls
    assert [(r.new, r.unchanged, r.failed) for r in again] == [(len(dates) - done, done, 0), (0, len(dates), 0)]
    articles = restarted.store.articles()
    assert sorted(a.source for a in articles.values()) == sorted(dates)
    assert all(a.complete for a in articles.values())


def _newsbot(store: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(NEWSBOT_STORE=str(store), NEWSBOT_ALLOW_PRIVATE_URLS="1", NEWSBOT_FETCH_DELAY="0")
    return subprocess.Popen(
        [sys.executable, "-m", "index.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=store.parent,
    )  # fmt: skip


def test_command_line_ingest_json_and_watch_sigterm(news_site: tuple[Site, dict[str, str]], tmp_path: Path) -> None:
    site, dates = news_site
    store = tmp_path / "store"
    missing = site.url("/pages/missing.html")
    ingest = _newsbot(store, "ingest", site.url("/atom.xml"), missing, "--json")
    out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, err
    report = json.loads(out)
    assert sorted(report["added"]) == sorted(dates) and report["updated"] == []
    assert report["skipped"] == [{"source": missing, "reason": "HTTP 404"}]

    watcher = _newsbot(store, "watch", site.url("/feed.xml"), "--every", "1s")
    assert watcher.stdout is not None
    line = watcher.stdout.readline()
    assert line.startswith(f"round 1: new 0, updated 0, unchanged {len(dates)}, failed 0"), line
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    assert "watch stopped" in err


def test_extraction_figures_on_real_pages(shared_dir: Path) -> None:
    """scripts/eval_extraction.py's end-to-end run (feed and sitemap over loopback HTTP): the
    figures in docs/fetch.md, as a floor."""
    module = load_script("eval_extraction")
    by_feed, by_sitemap, score, _seconds, _rows = module.measure(EVAL_DIR, sets=[])
    assert (len(by_feed.articles), len(by_sitemap.articles), by_feed.skipped) == (40, 40, [])
    assert score.kept >= 116 and score.excluded >= 113 and score.titles >= 31 and score.dates >= 26
    assert (score.kept_total, score.excluded_total, score.titles_total, score.dates_total) == (119, 117, 32, 31)
