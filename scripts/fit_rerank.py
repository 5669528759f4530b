"""Choose how the default answerer reorders the sentence ranker's best sentences: the weights of
the reader's ranking column (`rerank_weight`) and of its short answer's score
(`rerank_span_weight`) next to the ranker's score (`answerers.rerank_score`), in
index/models/reader.json.

    python scripts/fit_rerank.py --news training/newsqa \
        --data ../shared/eval/covid19-qa-es/train.squad2.json --store /tmp/evalnews --out docs/eval/rerank.md

Every question of the news QA set's dev part and of the SQuAD-format news set's fit part (all
articles but every fifth, `newsbot eval --split fit`) is asked once through `NewsIndex.ask`, and
the ranker's best sentences of each part are read as the default answerer reads them. Each pair
of weights then orders the same readings, and the pair whose first picks (for a "latest"
question, the newest article's among the first picks, as the answerer takes it) hold the gold
answer for the largest share of answerable questions, averaged over the two sets, is written.
Refusals do not depend on the order (the refusal model and the reader's gate read the whole
list), so they are left out; a question an answerer would refuse counts as a miss for every pair.
On a tie the pair in use stays. The covid19-qa files state no licence, so they choose these two
numbers and train nothing.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index import Settings
from index.answer.answerers import RERANK_CANDIDATES, Pick, best_pick, judge_candidates, rerank_score
from index.answer.question import Query
from index.answer.ranking import rank_sentences
from index.answer.reader import READER_FILE, Reader
from index.measure.datasets import EvalQuestion, EvalSet, load_dataset, split_questions
from index.measure.evaluate import dataset_index
from index.models import ReaderUse, load_fitted, load_models, write_fitted
from index.schema import Hit

RERANK_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
SPAN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Asked:
    """One question as the default answerer sees it: the query, the hits, and for each part the
    ranker's best sentences with the reader's judgement of each (Picks in the ranker's order)."""

    question: EvalQuestion
    query: Query
    hits: list[Hit]
    parts: list[list[Pick]]


def read_questions(data: EvalSet, questions: Sequence[EvalQuestion], store: Path, reader: Reader) -> list[Asked]:
    """Each answerable question asked once (in the store `newsbot eval --store STORE` builds) and its
    parts' best sentences read."""
    from train_answerer import Recorder  # scripts/ is on the path when a script in it runs

    recorder = Recorder()
    index, paths = dataset_index(data, Settings.from_env(), store, answerers=[recorder])
    index.ingest(paths)
    ranker = load_models().ranker
    asked = []
    for number, question in enumerate(questions, start=1):
        recorder.last = None
        index.ask(question.question, since=question.since, until=question.until)
        if recorder.last is not None and recorder.last[1]:
            query, hits = recorder.last
            parts = []
            for text, part in query.each_part():
                head = rank_sentences(part, hits, ranker)[:RERANK_CANDIDATES]
                judged = judge_candidates(reader, part, text, hits, head)
                parts.append([Pick(c, j) for c, j in zip(head, judged, strict=True)])
            asked.append(Asked(question, query, hits, parts))
        if number % 100 == 0:
            print(f"  {number}/{len(questions)} questions", file=sys.stderr, flush=True)
    return asked


def containment(asked: Sequence[Asked], answerable: int, use: ReaderUse) -> float:
    """The share of `answerable` questions whose picks, ordered with `use`'s weights, hold the answer."""
    held = 0
    for one in asked:
        quoted = []
        for picks in one.parts:
            order = sorted(picks, key=lambda p: -rerank_score(p.candidate, p.judgement, use))  # type: ignore[arg-type]
            if order:
                quoted.append(best_pick(one.query, one.hits, order).candidate.sentence)
        held += one.question.answered_by("\n".join(quoted))
    return held / max(1, answerable)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--news", type=Path, required=True, help="the news QA set (its dev part)")
    parser.add_argument("--data", type=Path, required=True, help="a SQuAD-format news set (its fit part)")
    parser.add_argument("--store", type=Path, default=Path("/tmp/newsbot-calibrate"), help="the eval store")
    parser.add_argument("--out", type=Path, help="write the table here (Markdown)")
    args = parser.parse_args()
    if not READER_FILE.is_file():
        raise SystemExit("no reader weights (index/models/reader.npz): run scripts/train_reader.py first")
    reader = Reader()
    sets = []
    for path, split in ((args.news, "dev"), (args.data, "fit")):
        data = load_dataset(path)
        questions = [q for q in split_questions(data.questions, split) if q.answerable]
        print(f"{data.name}, {split} part: {len(questions)} answerable questions", file=sys.stderr, flush=True)
        sets.append((f"{data.name} ({split})", read_questions(data, questions, args.store, reader), len(questions)))
    in_use = load_models().reader
    table: dict[tuple[float, float], list[float]] = {}
    for weight, span_weight in itertools.product(RERANK_WEIGHTS, SPAN_WEIGHTS):
        use = replace(in_use, rerank_weight=weight, rerank_span_weight=span_weight)
        table[(weight, span_weight)] = [containment(asked, total, use) for _, asked, total in sets]
    current = (in_use.rerank_weight, in_use.rerank_span_weight)

    def mean(pair: tuple[float, float]) -> float:
        return sum(table[pair]) / len(table[pair])

    chosen = max(table, key=lambda pair: (round(mean(pair), 6), pair == current))
    command = "python " + " ".join(sys.argv)
    write_fitted(
        "reader.json",
        {
            **load_fitted("reader.json"),
            "rerank_weight": chosen[0],
            "rerank_span_weight": chosen[1],
            "rerank_chosen_by": command,
            # Every pair's figures are in the --out table; the file keeps what was chosen over what.
            "rerank_fit": {
                "sets": [name for name, _, _ in sets],
                "chosen": [round(x, 3) for x in table[chosen]],
                "before": [round(x, 3) for x in table[current]] if current in table else None,
            },
        },
    )
    print(f"rerank weight {chosen[0]}, span weight {chosen[1]}: {table[chosen]} (before: {table.get(current)})")
    if args.out:
        names = [name for name, _, _ in sets]
        lines = [
            "# How the reader reorders the ranker's best sentences",
            "",
            f"Command: `{command}`",
            "",
            "The share of answerable questions whose first picks hold the gold answer, for each pair of "
            "weights of the reader's ranking column (`rerank_weight`) and of its short answer's score "
            "(`rerank_span_weight`) next to the sentence ranker's score; chosen: the best mean over the two "
            f"sets ({' and '.join(f'{n}: {total} answerable' for n, _, total in sets)}).",
            "",
            f"| rerank weight | span weight | {' | '.join(names)} | mean |",
            "|---:|---:|" + "---:|" * (len(names) + 1),
            *(
                f"| {w} | {s}{' **(chosen)**' if (w, s) == chosen else ''}{' (before)' if (w, s) == current else ''} | "
                + " | ".join(f"{x:.3f}" for x in v)
                + f" | {mean((w, s)):.3f} |"
                for (w, s), v in table.items()
            ),
        ]
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
