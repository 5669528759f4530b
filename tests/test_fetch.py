"""index.ingest.fetch and index.web against a real HTTP server on 127.0.0.1 (no model, no store: fast)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import ConfigError, Round, Settings, parse_duration
from index.ingest.fetch import USER_AGENT, Fetcher, FetchError, FetchPolicy
from index.ingest.ledger import Ledger, Seen
from index.ingest.web import WebReader, classify, feed_links, keep_links, sitemap_links
from tests.loopback_site import Site

PAGE = (
    b"<html><head><title>Prueba</title>"
    b'<meta property="article:published_time" content="2026-03-02T10:00:00-06:00"></head>'
    b"<body><article><h1>Prueba</h1>"
    + b"<p>El ayuntamiento aprobo el presupuesto de agua para el proximo anio con amplio apoyo.</p>" * 5
    + b"</article></body></html>"
)
LOOPBACK = FetchPolicy(timeout=1.0, delay=0.0, allow_private=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with Site(tmp_path / "site") as running:
        running.add_page("a.html", PAGE)
        running.add_page("b.html", PAGE.replace(b"agua", b"luz"))
        yield running


def test_private_addresses_are_refused_by_default(site: Site) -> None:
    with pytest.raises(FetchError, match="non-public address"):
        Fetcher(FetchPolicy(delay=0.0)).get(site.url("/pages/a.html"))
    assert site.paths_requested() == []  # refused before connecting
    for url in ("http://localhost/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/"):
        with pytest.raises(FetchError, match="non-public address"):
            Fetcher(FetchPolicy(delay=0.0)).get(url)
    with pytest.raises(FetchError, match="not an http"):
        Fetcher().get("file:///etc/passwd")


def test_the_environment_variable_allows_private_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().allow_private_urls is False
    monkeypatch.setenv("NEWSBOT_ALLOW_PRIVATE_URLS", "1")
    assert Settings.from_env().allow_private_urls is True


def test_get_names_newsbot_and_uses_conditional_get(site: Site) -> None:
    fetcher = Fetcher(LOOPBACK)
    first = fetcher.get(site.url("/pages/a.html"))
    assert first.status == 200 and first.content_type == "text/html" and first.body == PAGE
    assert first.last_modified
    again = fetcher.get(site.url("/pages/a.html"), last_modified=first.last_modified)
    assert again.not_modified
    headers = dict(site.requests)["/pages/a.html"]
    assert headers["user-agent"] == USER_AGENT
    assert site.requests[-1][1]["if-modified-since"] == first.last_modified


def test_etag_conditional_get(site: Site) -> None:
    site.use_etags = True
    fetcher = Fetcher(LOOPBACK)
    first = fetcher.get(site.url("/pages/a.html"))
    assert first.etag.startswith('"') and not first.last_modified
    assert fetcher.get(site.url("/pages/a.html"), etag=first.etag).not_modified
    assert site.requests[-1][1]["if-none-match"] == first.etag
    site.touch("/pages/a.html", PAGE.replace(b"agua", b"gas"))
    changed = fetcher.get(site.url("/pages/a.html"), etag=first.etag)
    assert changed.status == 200 and changed.etag != first.etag


def test_watch_intervals_and_round_lines() -> None:
    assert [parse_duration(t) for t in ("90", "30s", "10m", "1h", "1.5m")] == [90, 30, 600, 3600, 90]
    for bad in ("", "0", "-1m", "10 minutes", "m"):
        with pytest.raises(ConfigError):
            parse_duration(bad)
    line = Round(3, new=2, updated=1, unchanged=48, failed=1, seconds=41.23).line()
    assert line == "round 3: new 2, updated 1, unchanged 48, failed 1 (41.2 s)"


def test_a_page_in_its_own_charset_is_decoded(site: Site) -> None:
    latin = PAGE.replace(b"anio", "año y la región".encode("latin-1"))
    latin = latin.replace(b"<head>", b'<head><meta charset="iso-8859-1">')
    site.add_page("latin.htm", latin, listed=False)  # .htm: served as text/html, no charset in the header
    response = Fetcher(LOOPBACK).get(site.url("/pages/latin.htm"))
    assert response.charset == "" and "año y la región" in response.text()


def test_robots_txt_is_obeyed(site: Site) -> None:
    site.robots = "User-agent: *\nDisallow: /pages/b.html\n"
    fetcher = Fetcher(LOOPBACK)
    assert fetcher.get(site.url("/pages/a.html")).status == 200
    with pytest.raises(FetchError, match=r"robots\.txt"):
        fetcher.get(site.url("/pages/b.html"))
    assert "/pages/b.html" not in site.paths_requested()


def test_one_request_at_a_time_per_host_with_a_delay(site: Site) -> None:
    fetcher = Fetcher(FetchPolicy(timeout=1.0, delay=0.3, allow_private=True))
    started = time.monotonic()
    for _ in range(3):
        fetcher.get(site.url("/pages/a.html"))
    # robots.txt + 3 pages = 4 requests, 3 gaps of 0.3 s
    assert time.monotonic() - started >= 0.85


def test_timeouts_sizes_redirects_and_statuses(site: Site) -> None:
    fetcher = Fetcher(LOOPBACK)
    site.slow_seconds = 2.5
    with pytest.raises(FetchError, match="timed out"):
        fetcher.get(site.url("/slow/x"))
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.get(site.url("/pages/missing.html"))
    assert fetcher.get(site.url("/redirect/2")).url == site.url("/pages/a.html")
    with pytest.raises(FetchError, match="redirects"):
        fetcher.get(site.url("/redirect/9"))
    with pytest.raises(FetchError, match="too large"):
        Fetcher(FetchPolicy(delay=0.0, allow_private=True, max_bytes=100)).get(site.url("/pages/a.html"))


def test_feed_and_sitemap_links_come_from_trafilatura(site: Site) -> None:
    fetcher = Fetcher(LOOPBACK)
    expected = [site.url(p) for p in site.feed_pages]
    for path in ("/feed.xml", "/atom.xml"):
        response = fetcher.get(site.url(path))
        assert classify(response) == "feed"
        assert sorted(feed_links(response.text(), response.url)) == sorted(expected)
    response = fetcher.get(site.url("/sitemap.xml"))
    assert classify(response) == "sitemap"
    assert sitemap_links(response.text(), response.url) == (expected, [])
    assert classify(fetcher.get(site.url("/pages/a.html"))) == "article"
    with pytest.raises(FetchError, match="not XML"):
        classify(fetcher.get(site.url("/not-xml-feed.xml")))
    with pytest.raises(FetchError, match="wrong content type image/png"):
        classify(fetcher.get(site.url("/image.png")))
    # Only links to the feed's own site are followed.
    assert keep_links(["/x", "https://other.example/y", "mailto:a@b"], "https://www.diario.example/rss") == [
        "https://www.diario.example/x"
    ]


def test_reader_reports_each_bad_url_and_reads_the_rest(site: Site, tmp_path: Path) -> None:
    site.add_page("empty.html", b"<html><head><title>Portada</title></head><body></body></html>")
    reader = WebReader(Fetcher(LOOPBACK), Ledger(tmp_path / "ledger.sqlite3"))
    urls = [site.url(p) for p in ("/feed.xml", "/pages/missing.html", "/not-xml-feed.xml", "/image.png", "/slow/x")]
    read = reader.read(urls, complete_sources=set())
    assert sorted(a.source for a in read.articles) == sorted(site.url(p) for p in site.feed_pages if "empty" not in p)
    assert {a.date for a in read.articles} == {"2026-03-02"}
    reasons = dict(read.skipped)
    assert reasons[site.url("/pages/missing.html")] == "HTTP 404"
    assert "not XML" in reasons[site.url("/not-xml-feed.xml")]
    assert "wrong content type" in reasons[site.url("/image.png")]
    assert "timed out" in reasons[site.url("/slow/x")]
    assert "no article text" in reasons[site.url("/pages/empty.html")]


def test_a_sitemap_index_leads_to_its_sitemaps_pages(site: Site, tmp_path: Path) -> None:
    reader = WebReader(Fetcher(LOOPBACK), Ledger(tmp_path / "ledger.sqlite3"))
    read = reader.read([site.url("/sitemap-index.xml")], complete_sources=set())
    assert sorted(a.source for a in read.articles) == sorted(site.url(p) for p in site.feed_pages)
    assert [s.kind for s in read.listings] == ["sitemap", "sitemap"] and read.skipped == []


def test_a_304_is_trusted_only_for_articles_complete_in_the_store(site: Site, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    reader = WebReader(Fetcher(LOOPBACK), ledger)
    url = site.url("/pages/a.html")
    first = reader.read([url], complete_sources=set())
    ledger.put_many(list(first.pages.values()))
    assert reader.read([url], complete_sources={url}).unchanged == [url]
    # The store lost it (a kill between the two writes): fetched again in full.
    assert [a.source for a in reader.read([url], complete_sources=set()).articles] == [url]
    seen = first.pages[url]
    assert ledger.get(url) == Seen(url, "article", "", seen.last_modified, first.articles[0].content_hash, url)
