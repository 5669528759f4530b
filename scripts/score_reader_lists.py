"""Score reader files on the candidate lists the product builds for the news QA set.

    python scripts/reader_groups.py --news training/newsqa --work /tmp/news-groups
    python scripts/score_reader_lists.py --groups /tmp/news-groups/groups.jsonl --split held-out \
        index/models/reader.npz /tmp/reader-q1.npz ...

For every answerable question (each part of a two-part one) of the split, the sentence
ranker's best RERANK_CANDIDATES sentences as `reader_groups.py` recorded them are reordered as
the default answerer reorders them (ranker score + rerank_weight × the reader's ranking score),
and it counts how often the first then holds the gold answer (against the ranker's own first,
and against any of the list: the ceiling). With the unanswerable questions' lists it also
prints how well a list's best score tells answerable questions from unanswerable ones (AUC):
the reader's own ranking score, what the default answerer's `answer_threshold` applies to, and
the score its "none of these" choice was trained against (ranker score / rerank_weight + the
reader's). One pass per file, no index needed: the learning curve's command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer.answerers import RERANK_CANDIDATES
from index.answer.reader import Reader
from index.measure.metrics import separation_auc
from index.models import load_models


def score_file(path: Path, records: list[dict], weight: float) -> dict[str, float | None]:
    reader = Reader(path)
    first = ranker_first = ceiling = 0
    answerable_best: list[float] = []  # each list's best ranker score / weight + the reader's
    unanswerable_best: list[float] = []
    answerable_own: list[float] = []  # ... the reader's best alone
    unanswerable_own: list[float] = []
    for record in records:
        candidates = record["candidates"][:RERANK_CANDIDATES]
        ranks = reader.rank(
            record["reading"], [(c["title"], c["sentence"]) for c in candidates], [c["cosine"] for c in candidates]
        )
        combined = [c["score"] + weight * r for c, r in zip(candidates, ranks, strict=True)]
        best = max(combined) / weight
        if not record.get("answerable", True):
            unanswerable_best.append(best)
            unanswerable_own.append(max(ranks))
            continue
        answerable_best.append(best)
        answerable_own.append(max(ranks))
        holds = [bool(c["holds"]) for c in candidates]
        first += holds[int(np.argmax(combined))]
        ranker_first += holds[0]
        ceiling += any(holds)
    total = max(len(answerable_best), 1)
    return {
        "answerable": len(answerable_best),
        "unanswerable": len(unanswerable_best),
        "reordered_first_holds": round(first / total, 3),
        "ranker_first_holds": round(ranker_first / total, 3),
        "any_of_the_list_holds": round(ceiling / total, 3),
        "answerable_auc": round(separation_auc(answerable_own, unanswerable_own), 3) if unanswerable_own else None,
        "answerable_auc_with_ranker": (
            round(separation_auc(answerable_best, unanswerable_best), 3) if unanswerable_best else None
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("readers", type=Path, nargs="+", help="reader .npz files")
    parser.add_argument("--groups", type=Path, required=True, help="reader_groups.py --news's groups.jsonl")
    parser.add_argument("--split", default="held-out", choices=("train", "dev", "held-out"))
    parser.add_argument("--weight", type=float, default=None, help="rerank weight (default: models/reader.json's)")
    args = parser.parse_args()
    weight = args.weight if args.weight is not None else load_models().reader.rerank_weight
    lines = (json.loads(line) for line in args.groups.read_text(encoding="utf-8").splitlines())
    records = [r for r in lines if r.get("split") == args.split and r["candidates"]]
    for path in args.readers:
        print(json.dumps({"reader": str(path), "split": args.split, **score_file(path, records, weight)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
