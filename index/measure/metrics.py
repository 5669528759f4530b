"""The metrics of `newsbot eval`, `bench` and `loadtest`: pure functions, unit-tested.

One percentile definition for every latency in docs/ (linear interpolation between the two
nearest ranks, numpy's default), so "p95" means the same thing in every report.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..schema import Answer, marker_numbers, strip_markers

MAX_RANK = 10  # ranks are looked at down to 10 (hit@1..10, MRR@10)
_EDGE_PUNCTUATION = " \t\n.,;:!?¡¿\"'«»“”‘’()"


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """A gold answer occurs in `text` (markers removed, case and whitespace folded).

    A number is matched as a whole token: "41" is not found in "141", "4,1" or "41.5".
    """
    haystack = normalize(strip_markers(text))
    for answer in answers:
        needle = normalize(answer).strip(_EDGE_PUNCTUATION)
        if not needle:
            continue
        pattern = re.escape(needle)
        if needle[0].isdigit():
            pattern = r"(?<!\d)(?<!\d[.,])" + pattern
        if needle[-1].isdigit():
            pattern += r"(?!\d)(?![.,]\d)"
        if re.search(pattern, haystack):
            return True
    return False


def dangling_citations(answer: Answer) -> int:
    """Markers in the text with no citation of that number (a correct answerer has none)."""
    numbers = {c.number for c in answer.citations}
    return sum(1 for n in marker_numbers(answer.text) if n not in numbers)


def first_rank(ranked_sources: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold source in the list, or None."""
    wanted = set(gold)
    return next((i for i, s in enumerate(ranked_sources, start=1) if s in wanted), None)


def hit_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else math.nan


def mrr_at(ranks: Sequence[int | None], k: int = MAX_RANK) -> float:
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else math.nan


@dataclass(frozen=True)
class PRF:
    precision: float | None  # None when undefined (nothing predicted / nothing to find)
    recall: float | None
    f1: float | None


def refusal_prf(refused: Sequence[bool], unanswerable: Sequence[bool]) -> PRF:
    """Refusal as a classifier: refused=True is the positive class, unanswerable the truth."""
    true_pos = sum(1 for r, u in zip(refused, unanswerable, strict=True) if r and u)
    predicted = sum(refused)
    actual = sum(unanswerable)
    precision = true_pos / predicted if predicted else None
    recall = true_pos / actual if actual else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def separation_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """How often a positive scores above a negative, over every pair (a tie counts half): the
    area under the ROC curve. 0.5 is a score that cannot tell them apart, 1.0 one that never errs."""
    if not positives or not negatives:
        return math.nan
    pos, neg = np.asarray(positives, float), np.asarray(negatives, float)
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (len(pos) * len(neg)))


@dataclass(frozen=True)
class Scored:
    """One question as a refusal threshold sees it: the answer's score (-inf: refused whatever
    the threshold, +inf: answered whatever it), whether that answer holds the gold answer, and
    whether the question is answerable."""

    score: float
    holds_answer: bool
    answerable: bool


def at_threshold(rows: Sequence[Scored], threshold: float) -> dict[str, float]:
    """What refusing every answer scored below `threshold` gives (scripts/calibrate_*.py)."""
    refused = [r.score < threshold for r in rows]
    prf = refusal_prf(refused, [not r.answerable for r in rows])
    answerable = sum(r.answerable for r in rows)
    kept = [r for r, no in zip(rows, refused, strict=True) if not no]
    return {
        "threshold": threshold,
        "refusal_f1": prf.f1 or 0.0,
        "refusal_precision": prf.precision or 0.0,
        "refusal_recall": prf.recall or 0.0,
        "false_refusals": sum(r.answerable and no for r, no in zip(rows, refused, strict=True)) / max(answerable, 1),
        "containment_answered": sum(r.holds_answer for r in kept) / max(sum(r.answerable for r in kept), 1),
        "containment_all": sum(r.holds_answer for r in kept) / max(answerable, 1),
    }


def choose_threshold(
    rows: Sequence[Scored], max_false_refusals: float, steps: int = 200, mostly_right: bool = True
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """The best refusal F1 among thresholds that refuse at most `max_false_refusals` of the
    answerable questions (a user minds a refused answer more than a doubtful quote); ties go to
    the lower threshold. With `mostly_right`, a threshold is kept only when most of the questions
    it refuses (beyond those refused by rule at any) are unanswerable: a "not in the articles"
    that is wrong more often than right does the user more harm than a doubtful quote, and
    refusing by rule only (the lowest threshold) is better. Returns the chosen threshold's row
    and the table of every threshold tried."""
    finite = sorted({r.score for r in rows if math.isfinite(r.score)})
    candidates = [float(t) for t in np.linspace(finite[0], finite[-1], steps)] if finite else [0.0]
    table = [at_threshold(rows, t) for t in candidates]
    allowed = [
        row
        for row in table
        if row["false_refusals"] <= max_false_refusals and (not mostly_right or _mostly_right(rows, row["threshold"]))
    ] or table[:1]
    return max(allowed, key=lambda r: (r["refusal_f1"], -r["threshold"])), table


def _mostly_right(rows: Sequence[Scored], threshold: float) -> bool:
    """Are most questions scored below `threshold` (and not refused by rule) unanswerable?"""
    refused = [r for r in rows if math.isfinite(r.score) and r.score < threshold]
    return not refused or sum(not r.answerable for r in refused) > len(refused) / 2


def threshold_table(table: Sequence[dict[str, float]], chosen: dict[str, float], rows: int = 25) -> list[str]:
    """Markdown lines: every len(table) / rows-th threshold tried, and the chosen one."""
    lines = [
        "| threshold | refusal P | refusal R | refusal F1 | false refusals | containment (answered) "
        "| containment (all) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in [*table[:: max(1, len(table) // rows)], chosen]:
        mark = " **(chosen)**" if row is chosen else ""
        lines.append(
            f"| {row['threshold']:.3f}{mark} | {row['refusal_precision']:.3f} | {row['refusal_recall']:.3f} | "
            f"{row['refusal_f1']:.3f} | {row['false_refusals']:.3f} | {row['containment_answered']:.3f} | "
            f"{row['containment_all']:.3f} |"
        )
    return lines


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (q in 0..100) of `values`, linearly interpolated between the two
    nearest ranks (numpy's default method); None when there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_ms(seconds: Sequence[float], q: float) -> float | None:
    """`percentile` of durations in seconds, in milliseconds."""
    value = percentile(seconds, q)
    return None if value is None else 1000 * value


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 in milliseconds, rounded for a report (0 when there is nothing)."""
    return {f"p{q}": round(percentile_ms(seconds, q) or 0.0, 1) for q in (50, 95, 99)}
