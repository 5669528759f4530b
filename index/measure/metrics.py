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
