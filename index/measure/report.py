"""`newsbot eval`'s report: a terminal summary, a markdown page and a plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .metrics import MAX_RANK

_LABELS = {
    "hit@1": "retrieval hit@1",
    "hit@5": "retrieval hit@5",
    "mrr@10": "retrieval MRR@10",
    "answer_containment": "answer containment (answered)",
    "answer_containment_all": "answer containment (all answerable, refusal = miss)",
    "mean_answer_chars": "mean answer length (chars)",
    "citation_precision": "citation precision",
    "citations_per_answer": "citations per answer",
    "misses_from_other_articles": "wrong answers citing no article that holds the fact",
    "dangling_citations": "dangling citations",
    "refusal_rate": "refusal rate",
    "false_refusal_rate": "false refusals (answerable questions refused)",
    "refusal_precision": "refusal precision",
    "refusal_recall": "refusal recall",
    "refusal_f1": "refusal F1",
    "ask_p50_ms": "ask latency p50 (ms)",
    "ask_p95_ms": "ask latency p95 (ms)",
    "search_p50_ms": "search latency p50 (ms)",
    "search_p95_ms": "search latency p95 (ms)",
    "ingest_chunks": "chunks embedded",
    "ingest_chunks_per_s": "ingest throughput (chunks/s)",
}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_report(report: dict[str, Any], command: str, plot_name: str | None = None) -> str:
    systems = report["systems"]
    names = list(systems)
    lines = [
        f"# `newsbot eval` on {report['dataset']}",
        "",
        f"Command: `{command}`  ",
        f"Run: {report['date']} (load average {report.get('load_average_at_start')}); "
        f"{report['articles']} articles, {report['questions']} questions "
        f"({systems['newsbot']['answerable']} answerable); settings: "
        + ", ".join(f"{k}={v}" for k, v in report["settings"].items()),
        "",
        "Baseline = the LlamaIndex starter (VectorStoreIndex on Chroma, default SentenceSplitter, dense "
        "top-2, same embedding model); with no LLM its answer is the two retrieved chunks concatenated, both "
        "cited. Metrics are defined in [README.md](README.md).",
        "",
        "| metric | " + " | ".join(names) + (" | ours / baseline |" if "ratio" in report else " |"),
        "|---|" + "---:|" * (len(names) + (1 if "ratio" in report else 0)),
    ]
    for key, label in _LABELS.items():
        if not any(key in systems[n] for n in names):
            continue
        row = [label, *(_fmt(systems[n].get(key)) for n in names)]
        if "ratio" in report:
            row.append(_fmt(report["ratio"].get(key)))
        lines.append("| " + " | ".join(row) + " |")
    for name, kinds in report.get("per_type", {}).items():
        header = "| type | n | hit@1 | hit@5 | containment (all) | refusal rate |"
        lines += ["", f"By question type ({name}):", "", header, "|---|---:|---:|---:|---:|---:|"]
        for kind, m in kinds.items():
            lines.append(
                f"| {kind} | {m['questions']} | {_fmt(m['hit@1'])} | {_fmt(m['hit@5'])} | "
                f"{_fmt(m.get('answer_containment_all'))} | {_fmt(m.get('refusal_rate'))} |"
            )
    if report.get("per_kind"):
        lines += [
            "",
            "By what the question asks (newsbot; a question can be of several kinds):",
            "",
            "| kind | n | answerable | containment (answered) | containment (all answerable) | false refusals |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for kind, m in report["per_kind"].items():
            lines.append(
                f"| {kind} | {m['questions']} | {m['answerable']} | {_fmt(m.get('answer_containment'))} | "
                f"{_fmt(m.get('answer_containment_all'))} | {_fmt(m.get('false_refusal_rate'))} |"
            )
    if plot_name:
        lines += ["", f"![hit@k and latency]({plot_name})"]
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    ks = list(range(1, MAX_RANK + 1))
    for name, metrics in report["systems"].items():
        left.plot(ks, metrics["hit@k"], marker="o", label=name)
    left.set(xlabel="k (articles)", ylabel="hit@k", title=f"Retrieval on {report['dataset']}", ylim=(0, 1.02))
    left.set_xticks(ks)
    left.grid(alpha=0.3)
    left.legend()
    which = "search" if report["retrieval_only"] else "ask"
    latencies = [v for m in report["systems"].values() for v in m["_latencies_ms"] if v > 0]
    # Log-spaced bins: most questions take tens of ms, a few take seconds.
    bins = np.geomspace(min(latencies), max(latencies) * 1.01, 40) if latencies else 40
    for name, metrics in report["systems"].items():
        right.hist(metrics["_latencies_ms"], bins=bins, alpha=0.6, label=name)
    right.set(xscale="log", xlabel=f"{which} latency per question (ms)", ylabel="questions", title=f"{which} latency")
    right.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report without per-question latencies (kept only for the plot)."""
    out = dict(report)
    out["systems"] = {n: {k: v for k, v in m.items() if not k.startswith("_")} for n, m in report["systems"].items()}
    return out


def print_summary(report: dict[str, Any]) -> None:
    systems = report["systems"]
    names = list(systems)
    print(f"{report['dataset']}: {report['questions']} questions, {report['articles']} articles")
    print(f"{'metric':<54}" + "".join(f"{n:>12}" for n in names) + ("       ratio" if "ratio" in report else ""))
    for key, label in _LABELS.items():
        if not any(key in systems[n] for n in names):
            continue
        line = f"{label:<54}" + "".join(f"{_fmt(systems[n].get(key)):>12}" for n in names)
        if "ratio" in report:
            line += f"{_fmt(report['ratio'].get(key)):>12}"
        print(line)
