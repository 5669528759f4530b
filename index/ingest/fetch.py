"""HTTP for ingesting from the web: one polite, bounded GET at a time per host, and no way in to
the host's own network.

Why each rule:
- A User-Agent naming newsbot, robots.txt obeyed, one request at a time per host with a delay:
  outlets block crawlers that hammer them, and a watch loop runs for days.
- Conditional GET (ETag / Last-Modified): a watch round over unchanged feeds costs a few 304s.
- Timeouts, a size limit, a bounded number of redirects: a slow, huge or looping server must
  not hang or exhaust a round.
- The SSRF guard: `/ingest URL` is a bot command anyone with Manage Server can run, so a URL
  that resolves to loopback, private, link-local or otherwise non-public addresses is refused
  (unless NEWSBOT_ALLOW_PRIVATE_URLS=1), on every redirect hop, and the connection goes to the
  address that was checked (no second DNS lookup for a rebinding answer to slip into).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import urllib.robotparser
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3

from ..errors import NewsbotError

USER_AGENT = "newsbot/0.1 (news question-answering bot; python-urllib3)"
ROBOTS_TTL_SECONDS = 3600.0
ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"


_DECLARED_CHARSET = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?([A-Za-z0-9_.:-]{2,40})""", re.IGNORECASE)


class FetchError(NewsbotError):
    """A URL could not be fetched: the reason is one line, with no secrets in it."""


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for every request; the defaults are the polite ones."""

    timeout: float = 20.0  # seconds to connect, and between bytes read
    delay: float = 1.0  # seconds between two requests to one host
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = USER_AGENT
    obey_robots: bool = True


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 when a conditional GET found nothing new
    body: bytes
    content_type: str  # lower case, without parameters ("text/html")
    charset: str
    etag: str = ""
    last_modified: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body as text: the charset the server declared, else the one the document declares
        (`<meta charset>`, `<?xml encoding>`), else trafilatura's guess (UTF-8 first, then
        detection). Many Latin American outlets still serve ISO-8859-1."""
        declared = _DECLARED_CHARSET.search(self.body[:4096])
        for charset in (self.charset, declared.group(1).decode("ascii") if declared else ""):
            if charset:
                try:
                    return self.body.decode(charset, errors="replace")
                except LookupError:  # a charset Python does not know
                    pass
        from trafilatura.utils import decode_file

        return decode_file(self.body)


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_request: float = 0.0
    robots: urllib.robotparser.RobotFileParser | None = None
    robots_checked: float = 0.0


def _public_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to, after checking that it is public (unless allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchError(f"cannot resolve host {host}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve host {host}")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not allow_private and not ip.is_global:
            # Every address is checked, not just the first: a name can answer with several.
            raise FetchError(
                f"refused: {host} resolves to a non-public address ({ip}); set NEWSBOT_ALLOW_PRIVATE_URLS=1 to allow"
            )
    # IPv4 first: many hosts publish AAAA records that this machine cannot reach.
    return sorted(addresses, key=lambda a: ":" in a)[0]


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or FetchError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("not an http(s) URL")
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not fetched")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("invalid port in URL") from None
    return parts.scheme, parts.hostname, port


class Fetcher:
    """GETs with the limits of a `FetchPolicy`. Thread-safe; requests to one host are serialised."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        # No retries and no automatic redirects: each hop is checked by `get`.
        self._pools = urllib3.PoolManager(num_pools=20, retries=False)

    def _host(self, key: str) -> _Host:
        with self._hosts_lock:
            return self._hosts.setdefault(key, _Host())

    def get(self, url: str, *, etag: str = "", last_modified: str = "") -> Response:
        """GET `url` (following up to `max_redirects` redirects, each checked). Raises FetchError."""
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            scheme, host, port = check_url(current)
            if self.policy.obey_robots and not self._robots_allow(scheme, host, port, current):
                raise FetchError("disallowed by robots.txt")
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            status, response_headers, body = self._request(scheme, host, port, current, headers)
            if status in (301, 302, 303, 307, 308):
                location = response_headers.get("location", "")
                if not location:
                    raise FetchError(f"HTTP {status} without a Location")
                current = urljoin(current, location)
                continue
            if status == 304:
                return Response(current, 304, b"", "", "", etag, last_modified)
            if status != 200:
                raise FetchError(f"HTTP {status}")
            content_type, _, params = response_headers.get("content-type", "").partition(";")
            charset = ""
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name.lower() == "charset":
                    charset = value.strip("\"' ")
            return Response(
                url=current,
                status=200,
                body=body,
                content_type=content_type.strip().lower(),
                charset=charset,
                etag=response_headers.get("etag", ""),
                last_modified=response_headers.get("last-modified", ""),
            )
        raise FetchError(f"more than {self.policy.max_redirects} redirects")

    def _request(
        self, scheme: str, host: str, port: int, url: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        address = _public_address(host, port, self.policy.allow_private)
        state = self._host(f"{scheme}://{host}:{port}")
        with state.lock:  # one request at a time per host, `delay` apart
            wait = state.last_request + self.policy.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return self._send(scheme, host, port, address, url, headers)
            finally:
                state.last_request = time.monotonic()

    def _send(
        self, scheme: str, host: str, port: int, address: str, url: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        # Connect to the checked address; the Host header, SNI and certificate check keep the name.
        pool_kwargs: dict[str, object] = {}
        if scheme == "https":
            pool_kwargs = {"server_hostname": host, "assert_hostname": host}
        pool = self._pools.connection_from_host(address, port, scheme, pool_kwargs=pool_kwargs)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc_host = f"[{host}]" if ":" in host else host
        default_port = 443 if scheme == "https" else 80
        all_headers = {
            "Host": netloc_host if port == default_port else f"{netloc_host}:{port}",
            "User-Agent": self.policy.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
            **headers,
        }
        timeout = urllib3.Timeout(connect=self.policy.timeout, read=self.policy.timeout)
        try:
            response = pool.urlopen(
                "GET", path, headers=all_headers, redirect=False, retries=False,
                timeout=timeout, preload_content=False, assert_same_host=False,
            )  # fmt: skip
        except urllib3.exceptions.TimeoutError:
            raise FetchError(f"timed out after {self.policy.timeout:g} s") from None
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"connection failed ({type(exc).__name__})") from None
        try:
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            declared = response_headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchError(f"too large ({int(declared):,} bytes; limit {self.policy.max_bytes:,})")
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.stream(64 * 1024, decode_content=True):
                    size += len(chunk)
                    if size > self.policy.max_bytes:  # also catches a compressed bomb as it inflates
                        raise FetchError(f"too large (over {self.policy.max_bytes:,} bytes)")
                    chunks.append(chunk)
            except urllib3.exceptions.TimeoutError:
                raise FetchError(f"timed out after {self.policy.timeout:g} s") from None
            except urllib3.exceptions.HTTPError as exc:
                raise FetchError(f"connection failed while reading ({type(exc).__name__})") from None
            return response.status, response_headers, b"".join(chunks)
        finally:
            response.release_conn()

    # -- robots.txt ----------------------------------------------------------------------

    def _robots_allow(self, scheme: str, host: str, port: int, url: str) -> bool:
        state = self._host(f"{scheme}://{host}:{port}")
        now = time.monotonic()
        if state.robots is None or now - state.robots_checked > ROBOTS_TTL_SECONDS:
            state.robots = self._read_robots(scheme, host, port)
            state.robots_checked = now
        return state.robots.can_fetch(self.policy.user_agent, url)

    def _read_robots(self, scheme: str, host: str, port: int) -> urllib.robotparser.RobotFileParser:
        netloc = f"[{host}]" if ":" in host else host
        robots_url = f"{scheme}://{netloc}:{port}/robots.txt"
        parser = urllib.robotparser.RobotFileParser(robots_url)
        # A host that cannot be reached raises here (and is asked again next time): the page
        # itself could not be fetched either, and "connection failed" is the true reason.
        status, _headers, body = self._request(scheme, host, port, robots_url, {})
        if status == 200:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        elif 300 <= status < 500:
            # RFC 9309: a missing robots.txt means no rules. Redirects are not followed here
            # (rare for robots.txt), and count as missing.
            parser.parse([])  # no rules: everything allowed
        else:
            parser.parse(["User-agent: *", "Disallow: /"])  # RFC 9309: a server error means "assume complete disallow"
        return parser
