"""The measurement commands: `newsbot eval`, `newsbot bench` and `newsbot loadtest`.

Only argument parsing is here, and nothing heavy is imported until a command runs, so
`newsbot --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..search.embeddings import EMBED_MODELS
from ..settings import ANSWERERS


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `eval`, `bench` and `loadtest` to the `newsbot` command line (called by index/cli.py)."""
    from .bench import DEFAULT_EMBED_UP_TO, DEFAULT_QUERIES, DEFAULT_SIZES
    from .datasets import DOCUMENT_PARAGRAPHS, HELD_OUT_EVERY
    from .load import add_arguments

    p = commands.add_parser(
        "eval", parents=[common], help="measure retrieval and answers on a gold set, next to a naive baseline"
    )
    p.add_argument("dataset", type=Path, help="SQuAD-format JSON, or a newsbot gold set (examples/goldset.json)")
    p.add_argument("--limit", type=int, help="evaluate N questions, sampled with --seed (default: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", type=Path, help="write <dataset>.md and <dataset>.png into this folder")
    p.add_argument("--embed-model", choices=EMBED_MODELS, help="override NEWSBOT_EMBED_MODEL")
    p.add_argument("--chunk-size", type=int, help="override NEWSBOT_CHUNK_SIZE (tokens)")
    p.add_argument("--dense-weight", type=float, help="override NEWSBOT_DENSE_WEIGHT (0 = BM25 only, 1 = dense only)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid",
                   help="retrieval mode: dense = dense weight 1.0, bm25 = 0.0 (default hybrid)")  # fmt: skip
    p.add_argument("--retrieval-only", action="store_true", help="search metrics only, no answers (fast)")
    p.add_argument("--answerer", choices=ANSWERERS, help="override NEWSBOT_ANSWERER")
    p.add_argument(
        "--documents",
        action="store_true",
        help=f"SQuAD files: {DOCUMENT_PARAGRAPHS} consecutive paragraphs of a title form one article",
    )
    p.add_argument(
        "--split",
        choices=("all", "fit", "held-out", "dev"),
        default="all",
        help=f"every {HELD_OUT_EVERY}th article's questions (held-out) or the others (fit); the news QA "
        "set (a folder) is split by event: held-out, dev (where thresholds are chosen), fit (all but held-out)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline (for parameter sweeps)")
    p.set_defaults(handler=cmd_eval)

    p = commands.add_parser(
        "bench",
        parents=[common],
        help="ingest throughput, latency, memory at growing sizes",
        description="With --store DIR the stores are built under DIR/size-N and kept (default: a temporary folder).",
    )
    p.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                   help="corpus sizes in chunks, comma-separated (default 1000,10000,100000)")  # fmt: skip
    p.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help="timed queries per size (default 100)")
    p.add_argument("--embed-up-to", type=int, default=DEFAULT_EMBED_UP_TO,
                   help="embed passages with the real model up to this many chunks; larger sizes get "
                        "pre-computed vectors (default 1000)")  # fmt: skip
    p.add_argument("--embed-head", type=int, default=0,
                   help="with pre-computed vectors, still embed the first this many chunks' articles with "
                        "the model: questions are answered, the reader's cost is timed (default 0)")  # fmt: skip
    p.add_argument("--out", type=Path, help="write bench.md and bench.png into this folder")
    p.set_defaults(handler=cmd_bench)

    p = commands.add_parser("loadtest", parents=[common], help="concurrent questions in process while an ingest runs")
    add_arguments(p)
    p.set_defaults(handler=cmd_loadtest)


def cmd_eval(args: argparse.Namespace) -> int:
    from .datasets import load_dataset, slug
    from .evaluate import EvalOptions, evaluate
    from .report import markdown_report, plot_report, print_summary, public_report

    settings = args.settings.with_overrides(
        embed_model=args.embed_model, chunk_size=args.chunk_size, answerer=args.answerer
    )
    if args.mode != "hybrid" and args.dense_weight is not None:
        raise ConfigError("--mode dense/bm25 sets the dense weight; do not combine it with --dense-weight")
    weight = {"dense": 1.0, "bm25": 0.0}.get(args.mode, args.dense_weight)
    settings = settings.with_overrides(dense_weight=weight)
    settings.validate()
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    dataset = load_dataset(args.dataset, documents=args.documents)
    options = EvalOptions(
        limit=args.limit, seed=args.seed, store=Path(args.store) if args.store else None,
        retrieval_only=args.retrieval_only, baseline=not args.no_baseline, progress=sys.stderr.isatty(),
        split=args.split,
    )  # fmt: skip
    report = evaluate(dataset, settings, options)
    command = (
        "newsbot " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["eval"] else "newsbot eval"
    )
    report["command"] = command
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = slug(dataset.name) + ("" if args.split == "all" else f"-{args.split}")
        plot_report(report, args.out / f"{stem}.png")
        (args.out / f"{stem}.md").write_text(markdown_report(report, command, f"{stem}.png"), encoding="utf-8")
    if args.json:
        print(json.dumps(public_report(report), ensure_ascii=False, indent=2))
    else:
        print_summary(report)
        if args.out:
            print(f"wrote {args.out / stem}.md and .png")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench
    from .bench_report import markdown_report, plot_report

    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        raise ConfigError(f"--sizes must be comma-separated integers, not {args.sizes!r}") from None
    if not sizes or sizes[0] < 10 or args.queries < 1:
        raise ConfigError("--sizes must be at least 10 chunks and --queries at least 1")
    keep = Path(args.store) if args.store else None
    command = "newsbot " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "newsbot bench"

    def write(report: dict[str, Any]) -> None:
        report["command"] = command
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            plot_report(report, args.out / "bench.png")
            (args.out / "bench.md").write_text(markdown_report(report, command, "bench.png"), encoding="utf-8")
            (args.out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")

    report = run_bench(
        sizes,
        args.queries,
        args.embed_up_to,
        progress=not args.json,
        embed_head=args.embed_head,
        keep=keep,
        on_size=write,
    )
    write(report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(markdown_report(report, command, None))
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from .load import cmd_loadtest as run

    return run(args)
