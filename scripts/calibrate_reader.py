"""Choose how the reader is used (index/models/reader.json) on the fit part of a news set.

    python scripts/calibrate_reader.py --data ../shared/eval/covid19-qa-es/train.squad2.json \
        --store /tmp/evalcovid --out docs/eval/reader-threshold.md

Every question of the data set's fit part (`newsbot eval --split fit`: all articles but every
fifth, whose questions are the held-out news figure) is asked through `NewsIndex.ask` with a
reader that never refuses, and the score of the answer it would give is kept. These numbers
are chosen, in this order:

0. `rerank_weight`, for the default answerer (the ranker's best sentences reordered by the
   reader's ranking column): the one of RERANK_WEIGHTS whose answers hold the gold answer most
   often, the one in use on a tie (`--rerank-only` stops after it);
1. `ranker_weight`, how much the sentence ranker's score counts next to the reader's when
   choosing the sentence: the one of RANKER_WEIGHTS whose answers hold the gold answer most often;
2. `threshold`: the best refusal F1 among the thresholds that refuse at most
   MAX_FALSE_REFUSALS of the answerable questions (a user minds a refused answer more than a
   doubtful quote) and whose refusals are mostly of unanswerable questions
   (`metrics.choose_threshold`); the lowest where none is.

The covid19-qa files state no licence, so they choose these numbers and train nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from index import Settings
from index.answer import RankerAnswerer, ReaderAnswerer
from index.measure.datasets import load_squad, split_questions
from index.measure.evaluate import dataset_index, scored_answers
from index.measure.metrics import at_threshold, choose_threshold, threshold_table
from index.measure.remembering import RememberingReader
from index.models import load_fitted, write_fitted
from index.reader import READER_FILE, SentenceRanker

MAX_FALSE_REFUSALS = 0.05
RANKER_WEIGHTS = (0.0, 0.5, 1.0, 2.0)
RERANK_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)


def choose_rerank_weight(data: object, questions: list, store: Path, reader: SentenceRanker) -> tuple[float, dict]:
    """The weight of RERANK_WEIGHTS whose answers (refusals as the default answerer makes them)
    hold a gold answer for most answerable questions, and each weight's figure."""
    by_weight = {}
    for weight in RERANK_WEIGHTS:
        answerers = [RankerAnswerer(reader=reader, reader_weight=weight)]
        index, paths = dataset_index(data, Settings.from_env(), store, answerers=answerers)  # type: ignore[arg-type]
        index.ingest(paths)
        rows = scored_answers(index, questions, lambda answer: 0.0)
        by_weight[weight] = at_threshold(rows, 0.0)  # refused: -inf, below it; answered: 0, not
        print(f"rerank weight {weight}: {by_weight[weight]}", file=sys.stderr, flush=True)
    # On a tie the weight in use stays: the fit part gives no reason to move it (and the
    # ranking column was trained with the ranker's score scaled by it).
    in_use = float(load_fitted("reader.json").get("rerank_weight", math.nan))
    return max(RERANK_WEIGHTS, key=lambda w: (by_weight[w]["containment_all"], w == in_use)), by_weight


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a SQuAD v2-format news set")
    parser.add_argument(
        "--store",
        type=Path,
        default=Path("/tmp/newsbot-calibrate"),
        help="the eval store (shared with `newsbot eval --store`)",
    )
    parser.add_argument("--out", type=Path, help="write the threshold table here (Markdown)")
    parser.add_argument("--limit", type=int, help="ask only this many fit questions (smoke runs)")
    parser.add_argument("--rerank-only", action="store_true", help="choose rerank_weight only")
    args = parser.parse_args()

    data = load_squad(args.data)
    questions = split_questions(data.questions, "fit")[: args.limit]
    if not READER_FILE.is_file():
        raise SystemExit("no reader weights (index/models/reader.npz): run scripts/train_reader.py first")
    reader = RememberingReader()  # every weight is tried on the same readings
    command = "python " + " ".join(sys.argv)
    rerank_weight, by_rerank = choose_rerank_weight(data, questions, args.store, reader)
    write_fitted(
        "reader.json",
        {
            **load_fitted("reader.json"),
            "rerank_weight": rerank_weight,
            "rerank_chosen_by": command,
            "rerank_fit": {str(w): round(v["containment_all"], 3) for w, v in by_rerank.items()},
        },
    )
    rerank_lines = [
        "Rerank weight (how much the reader's ranking column counts next to the sentence ranker's",
        "score when it reorders the ranker's best sentences; the default answerer, its own refusals):",
        "",
        "| rerank weight | containment (answered) | containment (all answerable) | false refusals |",
        "|---:|---:|---:|---:|",
        *(
            f"| {w}{' **(chosen)**' if w == rerank_weight else ''} | {v['containment_answered']:.3f} | "
            f"{v['containment_all']:.3f} | {v['false_refusals']:.3f} |"
            for w, v in by_rerank.items()
        ),
        "",
    ]
    if args.rerank_only:
        print(f"rerank weight {rerank_weight}")
        if args.out:
            header = ["# How the reader is used, chosen on news", "", f"Command: `{command}`  ", ""]
            args.out.write_text("\n".join(header + rerank_lines), encoding="utf-8")
        return 0
    by_weight = {}
    for weight in RANKER_WEIGHTS:
        # The store `newsbot eval --store STORE` builds for the same file; a reader that never refuses.
        never_refuses = [ReaderAnswerer(reader, threshold=-math.inf, ranker_weight=weight)]
        index, paths = dataset_index(data, Settings.from_env(), args.store, answerers=never_refuses)
        index.ingest(paths)
        by_weight[weight] = scored_answers(
            index, questions, lambda answer: -math.inf if math.isnan(answer.score) else answer.score
        )
        print(f"ranker weight {weight}: {at_threshold(by_weight[weight], -math.inf)}", file=sys.stderr, flush=True)
    ranker_weight = max(RANKER_WEIGHTS, key=lambda w: at_threshold(by_weight[w], -math.inf)["containment_all"])
    rows = by_weight[ranker_weight]
    chosen, table = choose_threshold(rows, MAX_FALSE_REFUSALS)
    write_fitted(
        "reader.json",
        {
            **load_fitted("reader.json"),
            "threshold": round(chosen["threshold"], 3),
            "ranker_weight": ranker_weight,
            "chosen_by": command,
            "data": f"{args.data.name}, fit part ({len(questions)} questions; every fifth article held out)",
            "fit": {k: round(v, 3) for k, v in chosen.items()},
        },
    )
    print(f"threshold {chosen['threshold']:.3f}: {chosen}")
    if args.out:
        lines = [
            "# How the reader is used, chosen on news",
            "",
            f"Command: `{command}`",
            "",
            *rerank_lines,
            f"{len(questions)} questions of the fit part of {args.data.name} "
            f"({sum(r.answerable for r in rows)} answerable). Chosen: the best refusal F1 with at most "
            f"{MAX_FALSE_REFUSALS:.0%} of answerable questions refused, among the thresholds whose "
            "refusals are mostly of unanswerable questions (the lowest where none is).",
            "",
            "Ranker weight (how much the sentence ranker counts next to the reader), all questions answered:",
            "",
            "| ranker weight | containment (all answerable) |",
            "|---:|---:|",
            *(
                f"| {w}{' **(chosen)**' if w == ranker_weight else ''} | "
                f"{at_threshold(by_weight[w], -math.inf)['containment_all']:.3f} |"
                for w in RANKER_WEIGHTS
            ),
            "",
            f"Threshold, at ranker weight {ranker_weight}:",
            "",
            *threshold_table(table, chosen),
        ]
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
