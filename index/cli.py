"""The `newsbot` command line: ingest, search, stats, sources, ask (and what plugins add).

Every sub-command goes through `NewsIndex`, the same API the bot uses. Errors print one
line to stderr and exit 1; `--json` prints machine-readable output on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from .console import open_index, print_json
from .errors import NewsbotError
from .settings import Settings

Handler = Callable[[argparse.Namespace], int]


def cmd_ingest(args: argparse.Namespace) -> int:
    report = open_index(args).ingest(args.paths, prune=args.prune, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print_json(report.to_dict())
        return 0
    for source, reason in report.skipped:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .ingest.watch import Round, parse_duration, watch

    every = parse_duration(args.every)
    index = open_index(args)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        # Only a flag: the write under way is finished, the fetching ends at the next URL. The
        # usual handlers come back, so a second Ctrl-C quits at once (the store repairs a
        # half-written article on the next run).
        print(
            f"newsbot: {signal.Signals(signum).name}: stopping after the current write (Ctrl-C again to quit now)",
            file=sys.stderr,
        )
        stop.set()
        restore()

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def show(result: Round) -> None:
        print(json.dumps(result.to_dict()) if args.json else result.line(), flush=True)

    def show_skipped(source: str, reason: str) -> None:
        print(f"skipped {source}: {reason}", file=sys.stderr, flush=True)

    try:
        watch(
            index, args.sources, every=every, stop=stop, max_rounds=args.rounds,
            on_round=show, on_skipped=show_skipped,
        )  # fmt: skip
    finally:
        restore()
    if stop.is_set():
        print("newsbot: watch stopped", file=sys.stderr)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    hits = open_index(args).search(args.query, k=args.k, since=args.since, until=args.until)
    if args.json:
        print_json([h.to_dict() for h in hits])
        return 0
    if not hits:
        print("No matching articles.")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. [{hit.score:.3f}] {hit.title} — {hit.outlet or 'unknown outlet'}, {hit.date}")
        print(f"   {hit.url or hit.source}")
        print(textwrap.indent(textwrap.shorten(hit.text, 300, placeholder=" …"), "   "))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = open_index(args).stats()
    if args.json:
        print_json(stats)
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    infos = open_index(args).list_articles(args.query, limit=args.limit, offset=args.offset)
    if args.json:
        print_json([i.to_dict() for i in infos])
        return 0
    for info in infos:
        print(f"{info.date}  {info.title} — {info.outlet or 'unknown outlet'}\n            {info.source}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    index = open_index(args)
    answer = index.ask(args.question, since=args.since, until=args.until)
    sources = answer.citations or answer.see_also
    if answer.refused and not sources and index.stats()["chunks"] == 0:  # asked before any ingest
        print("The index is empty: add articles with `newsbot ingest PATH`.", file=sys.stderr)
    if args.json:
        print_json(answer.to_dict())
        return 0
    print(answer.text)
    if sources:
        print("\nFuentes:" if answer.language == "es" else "\nSources:")
    for c in sources:
        print(f"[{c.number}] {c.title} — {c.outlet or '?'}, {c.date}\n    {c.url or c.source}")
        print(textwrap.indent(textwrap.fill(f"«{c.quote}»", 96), "    "))
    return 0


def _common(json_flag: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--store", help="index location (default: NEWSBOT_STORE)")
    if json_flag:
        parent.add_argument("--json", action="store_true", help="machine-readable output")
    return parent


def _dates(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
    parser.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description="Question answering over news articles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()

    p = commands.add_parser(
        "ingest", parents=[common], help="add or update articles from files, folders and URLs (pages, feeds, sitemaps)"
    )
    p.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    p.add_argument("--prune", action="store_true", help="remove articles whose files are gone")
    p.set_defaults(handler=cmd_ingest)

    p = commands.add_parser(
        "watch", parents=[common], help="re-read feeds, sitemaps and folders every so often; ingest what is new"
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="folders, files, article/feed/sitemap URLs")
    p.add_argument("--every", default="10m", help="time between rounds: 30s, 10m, 1h (default 10m)")
    p.add_argument("--rounds", type=int, default=None, help="stop after this many rounds (default: run until stopped)")
    p.set_defaults(handler=cmd_watch)

    p = commands.add_parser("search", parents=[common], help="find the articles that match a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="how many articles (default 5)")
    _dates(p)
    p.set_defaults(handler=cmd_search)

    p = commands.add_parser("ask", parents=[common], help="answer a question, with cited sources")
    p.add_argument("question")
    _dates(p)
    p.set_defaults(handler=cmd_ask)

    p = commands.add_parser("stats", parents=[common], help="articles, chunks and the last ingest")
    p.set_defaults(handler=cmd_stats)

    p = commands.add_parser("sources", parents=[common], help="list indexed articles, newest first")
    p.add_argument("query", nargs="?", help="only articles matching this")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(handler=cmd_sources)

    # Measurement: `eval`, `bench` and `loadtest` (index/measure/). Registering them imports no
    # model, Chroma or matplotlib; those load when a command runs.
    from .measure import cli as measure_cli

    measure_cli.register(commands, common)

    for _name, register in _plugin_commands():
        register(commands, common)
    return parser


def _plugin_commands() -> list[tuple[str, Callable[..., None]]]:
    """Sub-commands contributed by other packages (e.g. `bot`), via entry points."""
    found = []
    for entry in entry_points(group="newsbot.commands"):
        try:
            found.append((entry.name, entry.load()))
        except ImportError as exc:  # a front-end whose dependencies are missing
            logging.getLogger(__name__).debug("skipping command %s: %s", entry.name, exc)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        args.settings = Settings.from_env()
        handler: Handler = args.handler
        return handler(args)
    except NewsbotError as exc:
        print(f"newsbot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `newsbot ask ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
