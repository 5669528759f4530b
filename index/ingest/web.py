"""Articles from the web: an article URL, an RSS/Atom/JSON feed or a sitemap, expanded into
article pages, each fetched (conditionally, see `ledger`) and extracted like an HTML file.

Link extraction is trafilatura's (`trafilatura.feeds.find_links`, `trafilatura.sitemaps.
SitemapObject`); only the final link filter is ours, because courlan's URL check rejects hosts
with a port or an IP address, which drops every link of a server on 127.0.0.1:8080.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from ..errors import ArticleError
from ..schema import Article
from .articles import parse_web_page
from .fetch import Fetcher, FetchError, Response
from .ledger import Ledger, Seen

log = logging.getLogger(__name__)

MAX_LINKS_PER_LISTING = 1000  # links taken from one feed or sitemap
MAX_LISTINGS = 50  # feeds and (nested) sitemaps fetched per round
HTML_TYPES = {"text/html", "application/xhtml+xml"}
XML_TYPES = {"application/xml", "text/xml", "application/rss+xml", "application/atom+xml", "application/rdf+xml"}
JSON_FEED_TYPES = {"application/feed+json", "application/json"}


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


@dataclass
class WebRead:
    articles: list[Article] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    unchanged: list[str] = field(default_factory=list)  # sources a 304 showed unchanged
    pages: dict[str, Seen] = field(default_factory=dict)  # by article source: to record once stored
    listings: list[Seen] = field(default_factory=list)  # feeds and sitemaps: to record after the round
    stopped: bool = False  # the stop event cut the round short


def _site(host: str) -> str:
    """The part of a host name two URLs must share to count as one site (www. and subdomains
    of one outlet are the same site; an IP address is only itself)."""
    host = host.lower().removeprefix("www.")
    labels = host.split(".")
    if host.replace(".", "").isdigit() or ":" in host or len(labels) <= 2:
        return host
    return ".".join(labels[-2:])


def keep_links(links: list[str], base: str) -> list[str]:
    """Absolute http(s) links to the same site as `base`, each once, in order, capped. A home
    page ("/", a feed's channel link) and `base` itself are not articles."""
    base_site = _site(urlsplit(base).hostname or "")
    kept: list[str] = []
    seen: set[str] = set()
    for link in links:
        absolute = urljoin(base, link.strip()).split("#", 1)[0]
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or not parts.hostname or absolute in seen or absolute == base:
            continue
        if parts.path in ("", "/") and not parts.query:
            continue
        if _site(parts.hostname) != base_site:
            log.info("link to another site left out: %s", absolute)
            continue
        seen.add(absolute)
        kept.append(absolute)
        if len(kept) >= MAX_LINKS_PER_LISTING:
            break
    return kept


def feed_links(text: str, url: str) -> list[str]:
    from trafilatura.feeds import FeedParameters, find_links

    parts = urlsplit(url)
    params = FeedParameters(f"{parts.scheme}://{parts.netloc}", parts.hostname or "", url)
    return keep_links(find_links(text.strip(), params), url)


def sitemap_links(text: str, url: str) -> tuple[list[str], list[str]]:
    """(article links, nested sitemap links) of a sitemap (XML or plain-text list)."""
    from trafilatura.sitemaps import DETECT_SITEMAP_LINK, SitemapObject

    class _Collect(SitemapObject):
        # trafilatura parses; we only sort links into pages and sitemaps (see module doc).
        def handle_link(self, link: str) -> None:
            target = self.sitemap_urls if DETECT_SITEMAP_LINK.search(link) else self.urls
            target.append(link)

    parts = urlsplit(url)
    sitemap = _Collect(f"{parts.scheme}://{parts.netloc}", parts.hostname or "", [])
    sitemap.content = text
    sitemap.current_url = url
    sitemap.process()
    return keep_links(sitemap.urls, url), keep_links(sitemap.sitemap_urls, url)


def _is_sitemap_link(link: str) -> bool:
    from trafilatura.sitemaps import DETECT_SITEMAP_LINK

    return bool(DETECT_SITEMAP_LINK.search(link))


def classify(response: Response) -> str:
    """The kind of a response: "feed", "sitemap" or "article"; FetchError for anything else."""
    from trafilatura.feeds import is_potential_feed

    head = response.text()[:2000].lstrip("\ufeff \t\r\n")
    kind = response.content_type
    if "<urlset" in head or "<sitemapindex" in head:  # first: an XML declaration also looks like a feed
        return "sitemap"
    if is_potential_feed(head) or (kind in JSON_FEED_TYPES and head.startswith("{")):
        return "feed"
    if kind in HTML_TYPES:
        return "article"
    if kind in XML_TYPES or kind.endswith("+xml"):
        if not head.startswith("<"):
            raise FetchError(f"not a feed or sitemap: the response is not XML (content type {kind})")
        raise FetchError("not a feed or sitemap: XML without <rss>, <feed> or <urlset>")
    if kind == "text/plain" and head.startswith("http"):
        return "sitemap"  # a plain-text sitemap: one URL a line
    raise FetchError(f"wrong content type {kind or '(none)'}: expected an HTML page, a feed or a sitemap")


class WebReader:
    """Reads URLs into articles with one `Fetcher` and one `Ledger`."""

    def __init__(self, fetcher: Fetcher, ledger: Ledger) -> None:
        self.fetcher = fetcher
        self.ledger = ledger

    def read(self, urls: list[str], *, complete_sources: set[str], stop: threading.Event | None = None) -> WebRead:
        """Every article behind `urls`. `complete_sources` are the articles complete in the store:
        only for those is a 304 ("not modified") trusted."""
        result = WebRead()
        queue: deque[str] = deque(urls)
        visited: set[str] = set()
        listings = 0
        while queue:
            if stop is not None and stop.is_set():
                result.stopped = True
                break
            url = queue.popleft()
            if url in visited:
                continue
            visited.add(url)
            previous = self.ledger.get(url)
            try:
                found = self._read_one(url, previous, complete_sources, result)
            except (FetchError, ArticleError) as exc:
                result.skipped.append((url, str(exc)))
                continue
            for link, is_listing in found:
                if is_listing:
                    listings += 1
                    if listings > MAX_LISTINGS:
                        result.skipped.append((link, f"more than {MAX_LISTINGS} feeds or sitemaps in one round"))
                        continue
                queue.append(link)
        return result

    def _read_one(self, url: str, previous: Seen | None, complete: set[str], result: WebRead) -> list[tuple[str, bool]]:
        """Fetch one URL; an article goes into `result`, a listing returns its (link, is_listing)s."""
        conditional = previous is not None and (previous.kind != "article" or previous.source in complete)
        response = self.fetcher.get(
            url,
            etag=previous.etag if conditional and previous else "",
            last_modified=previous.last_modified if conditional and previous else "",
        )
        if response.not_modified and previous is not None:
            if previous.kind == "article":
                result.unchanged.append(previous.source)
                return []
            result.listings.append(previous)
            return [(link, previous.kind == "sitemap" and _is_sitemap_link(link)) for link in previous.links]
        kind = classify(response)
        text = response.text()
        if kind == "feed":
            links = feed_links(text, response.url)
            if not links:
                raise FetchError("no article links in the feed")
            result.listings.append(Seen(url, "feed", response.etag, response.last_modified, links=tuple(links)))
            return [(link, False) for link in links]
        if kind == "sitemap":
            pages, nested = sitemap_links(text, response.url)
            if not pages and not nested:
                raise FetchError("no links in the sitemap")
            seen = Seen(url, "sitemap", response.etag, response.last_modified, links=(*nested, *pages))
            result.listings.append(seen)
            return [(link, True) for link in nested] + [(link, False) for link in pages]
        article = parse_web_page(text, url)
        result.articles.append(article)
        result.pages[article.source] = Seen(
            url, "article", response.etag, response.last_modified, article.content_hash, article.source
        )
        return []
