"""A real HTTP server on 127.0.0.1 for the web-ingest tests: a folder of pages, an RSS feed and a
sitemap generated from it, and a few misbehaving paths. No mocks: newsbot's own HTTP client talks
to it over a socket.

    /pages/<name>.html  the files in the site folder (Last-Modified, 304 on If-Modified-Since)
    /feed.xml           RSS 2.0 listing `site.feed_pages`     (application/rss+xml)
    /atom.xml           the same as Atom                       (application/atom+xml)
    /sitemap.xml        a sitemap listing `site.feed_pages`    (application/xml)
    /sitemap-index.xml  a sitemap index listing /sitemap.xml
    /slow/<name>        answers after `slow_seconds` (a timeout)
    /not-xml-feed.xml   "this is not a feed", as application/rss+xml
    /image.png          some bytes as image/png (a wrong content type)
    /redirect/<n>       n redirects, then /pages/<first page>
    /robots.txt         `site.robots` (404 when empty)
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar


class Site:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "pages").mkdir(parents=True, exist_ok=True)
        self.feed_pages: list[str] = []  # paths listed by the feed and the sitemap
        self.robots = ""
        self.slow_seconds = 3.0
        self.use_etags = False  # pages answer with an ETag (and 304 on If-None-Match) instead of Last-Modified
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) of every request
        self.on_request: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        site = self

        class Handler(SimpleHTTPRequestHandler):
            extensions_map: ClassVar[dict[str, str]] = {
                **SimpleHTTPRequestHandler.extensions_map,
                ".html": "text/html; charset=utf-8",
            }

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(site.root), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if site.on_request is not None:
                    site.on_request(self.path)
                path = self.path.split("?", 1)[0]
                if path == "/feed.xml":
                    return self._send(site.rss().encode(), "application/rss+xml")
                if path == "/atom.xml":
                    return self._send(site.atom().encode(), "application/atom+xml")
                if path == "/sitemap.xml":
                    return self._send(site.sitemap().encode(), "application/xml")
                if path == "/sitemap-index.xml":
                    return self._send(site.sitemap_index().encode(), "application/xml")
                if path == "/not-xml-feed.xml":
                    return self._send(b"this is not a feed", "application/rss+xml")
                if path == "/image.png":
                    return self._send(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")
                if path == "/robots.txt":
                    if not site.robots:
                        return self.send_error(404)
                    return self._send(site.robots.encode(), "text/plain")
                if path.startswith("/slow/"):
                    time.sleep(site.slow_seconds)
                    return self._send(b"<html><body><p>late</p></body></html>", "text/html")
                if path.startswith("/redirect/"):
                    hops = int(path.rsplit("/", 1)[1])
                    target = f"/redirect/{hops - 1}" if hops > 1 else site.feed_pages[0]
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if site.use_etags and path.startswith("/pages/"):
                    return self._send_with_etag(site.root / path.lstrip("/"))
                return super().do_GET()

            def _send_with_etag(self, file: Path) -> None:
                if not file.is_file():
                    return self.send_error(404)
                body = file.read_bytes()
                etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None

            def _send(self, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="loopback-site", daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def add_page(self, name: str, html: bytes, *, listed: bool = True) -> str:
        (self.root / "pages" / name).write_bytes(html)
        path = f"/pages/{name}"
        if listed:
            self.feed_pages.append(path)
        return path

    def touch(self, path: str, html: bytes) -> None:
        """Change a page, and move its Last-Modified forward (mtime has 1 s resolution)."""
        file = self.root / path.lstrip("/")
        file.write_bytes(html)
        later = time.time() + 5
        os.utime(file, (later, later))

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]

    def rss(self) -> str:
        items = "".join(
            f"<item><title>{p}</title><link>{self.url(p)}</link><pubDate>{formatdate()}</pubDate></item>"
            for p in self.feed_pages
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Test</title>'
            f"<link>{self.base}/</link><description>t</description>{items}</channel></rss>"
        )

    def atom(self) -> str:
        entries = "".join(
            f'<entry><title>{p}</title><link href="{self.url(p)}"/><id>{self.url(p)}</id></entry>'
            for p in self.feed_pages
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>Test</title><link rel="self" href="{self.url("/atom.xml")}"/>{entries}</feed>'
        )

    def sitemap(self) -> str:
        urls = "".join(f"<url><loc>{self.url(p)}</loc></url>" for p in self.feed_pages)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )

    def sitemap_index(self) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.url('/sitemap.xml')}</loc></sitemap></sitemapindex>"
        )

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
