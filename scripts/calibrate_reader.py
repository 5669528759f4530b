"""Choose how the reader is used (index/models/reader.json) on the fit part of a news set.

    python scripts/calibrate_reader.py --data ../shared/eval/covid19-qa-es/train.squad2.json \
        --store /tmp/evalcovid --out docs/eval/reader-threshold.md

Every question of the data set's fit part (`newsbot eval --split fit`: all articles but every
fifth, whose questions are the held-out news figure) is asked through `NewsIndex.ask` with a
reader that never refuses, and the score of the answer it would give is kept. These numbers
are chosen, in this order (how the default answerer reorders the ranker's best sentences is
chosen by scripts/fit_rerank.py):

1. `ranker_weight`, how much the sentence ranker's score counts next to the reader's when
   choosing the sentence: the one of RANKER_WEIGHTS whose answers hold the gold answer most often;
2. `threshold`: the best refusal F1 among the thresholds that refuse at most
   MAX_FALSE_REFUSALS of the answerable questions (a user minds a refused answer more than a
   doubtful quote) and whose refusals are mostly of unanswerable questions
   (`metrics.choose_threshold`); the lowest where none is.

The covid19-qa files state no licence, so they choose these numbers and train nothing.

With `--news training/newsqa` it chooses, on the news QA set's dev part (events that are
neither trained on nor held out), what the default answerer needs of a reader trained with the
"none of these answers" choice:

- `answer_threshold`: the default answerer does not answer a question part when the reader's
  best ranking score among the sentences it read is below it (the refusal model refuses
  before that as well): the best refusal F1 among the thresholds that refuse at most
  MAX_READER_FALSE_REFUSALS of the answerable questions and whose refusals are mostly of
  unanswerable questions (`metrics.choose_threshold`);
- `span_threshold`: the short answer is given first where the span head's score is at least
  this: the lowest score above which SPAN_PRECISION of the short answers (of sentences that
  hold the gold answer) hold it.

    python scripts/calibrate_reader.py --news training/newsqa --store /tmp/evalnews \
        --check ../shared/eval/covid19-qa-es/train.squad2.json --out docs/eval/answer-threshold.md

`--check` prints what the chosen threshold does on another news set's fit part.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from index import Settings
from index.answer.answerers import RankerAnswerer, Trace
from index.answer.reader import READER_FILE, Reading, SentenceRanker
from index.answer.reader_answerer import ReaderAnswerer
from index.measure.datasets import EvalQuestion, EvalSet, load_dataset, load_squad, split_questions
from index.measure.evaluate import dataset_index, scored_answers
from index.measure.metrics import Scored, at_threshold, choose_threshold, contains_answer, threshold_table
from index.measure.remembering import RememberingReader
from index.models import load_fitted, load_models, write_fitted

MAX_FALSE_REFUSALS = 0.05
# The reader's gate gets half that margin: its score moves between data sets more than the dev
# part shows. Session 22's reader at the threshold that refused 4.9 % of the dev part's
# answerable questions refused 5.4 % of the held-out ones asked in another language than their
# article and cost covid19-qa-es's held-out part 4 of 156 questions (docs/eval/newsqa.md).
MAX_READER_FALSE_REFUSALS = 0.03
SPAN_PRECISION = 0.8
RANKER_WEIGHTS = (0.0, 0.5, 1.0, 2.0)


@dataclass
class SpanRecorder:
    """The default answerer's trace: the span readings of the sentences it quoted last."""

    readings: list[Reading] = field(default_factory=list)

    def __call__(self, trace: Trace) -> None:
        self.readings[:] = [pick.judgement.reading for pick in trace.chosen if pick.judgement is not None]


def news_rows(data: EvalSet, questions: list[EvalQuestion], store: Path, reader: SentenceRanker):  # type: ignore[no-untyped-def]
    """Each question asked once with no score threshold: its answer's score rows, and the
    (span score, span holds the gold answer) of each one-part answer whose sentence holds it."""
    recorder = SpanRecorder()
    # The reader's gate never refusing (the refusal model refuses as in the product), no short
    # answer first: what the thresholds are chosen from.
    models = load_models().with_reader(answer_threshold=-math.inf, span_threshold=None)
    answerer = RankerAnswerer(models=models, reader=reader, trace=recorder)
    index, paths = dataset_index(data, Settings.from_env(), store, answerers=[answerer])
    index.ingest(paths)
    rows, spans = [], []
    for number, question in enumerate(questions, start=1):
        recorder.readings.clear()
        answer = index.ask(question.question)
        score = -math.inf if answer.refused else answer.score
        holds = question.answerable and question.answered_by(answer.text)
        rows.append(Scored(score, holds, question.answerable))
        if holds and not question.parts and len(recorder.readings) == 1 and recorder.readings[0].answer:
            reading = recorder.readings[0]
            spans.append((reading.score, contains_answer(reading.answer, question.answers)))
        if number % 100 == 0:
            print(f"  {number}/{len(questions)} questions", file=sys.stderr, flush=True)
    return rows, spans


def choose_span_threshold(spans: list[tuple[float, bool]]) -> tuple[float | None, dict[str, float]]:
    """The lowest span score above which SPAN_PRECISION of the short answers hold the gold answer."""
    for threshold in sorted({score for score, _ in spans}):
        above = [holds for score, holds in spans if score >= threshold]
        if len(above) >= 20 and sum(above) / len(above) >= SPAN_PRECISION:
            return threshold, {"precision": sum(above) / len(above), "share_given": len(above) / len(spans)}
    return None, {}


def calibrate_news(args: argparse.Namespace, reader: SentenceRanker, command: str) -> int:
    data = load_dataset(args.news)
    questions = split_questions(data.questions, "dev")[: args.limit]
    rows, spans = news_rows(data, questions, args.store, reader)
    chosen, table = choose_threshold(rows, MAX_READER_FALSE_REFUSALS)
    span_threshold, span_fit = choose_span_threshold(spans)
    # Only a reader trained with the "none of these answers" choice has learned a score to refuse on.
    trained_null = getattr(reader, "null_score", None) is not None
    not_used = 'Not used: `answer_threshold` stays null: this reader has no trained "none of these answers" score.'
    write_fitted(
        "reader.json",
        {
            **load_fitted("reader.json"),
            "answer_threshold": round(chosen["threshold"], 3) if trained_null else None,
            "span_threshold": None if span_threshold is None else round(span_threshold, 3),
            "answer_chosen_by": command,
            "answer_data": f"the news QA set's dev part ({len(questions)} questions)",
            "answer_fit": {k: round(v, 3) for k, v in chosen.items()} if trained_null else {},
            "span_fit": {k: round(v, 3) for k, v in span_fit.items()},
        },
    )
    print(f"answer threshold {chosen['threshold']:.3f}: {chosen}")
    print(f"span threshold {span_threshold}: {span_fit}")
    lines = [
        "# When the default answerer refuses, and when it gives the short answer first",
        "",
        f"Command: `{command}`",
        "",
        f"{len(questions)} questions of the news QA set's dev part ({sum(r.answerable for r in rows)} answerable). "
        f"Answer threshold: the best refusal F1 with at most {MAX_READER_FALSE_REFUSALS:.0%} of answerable questions "
        "refused, among the thresholds whose refusals are mostly of unanswerable questions. Span threshold: the "
        f"lowest span score above which {SPAN_PRECISION:.0%} of the short answers hold the gold answer "
        f"(chosen: {span_threshold}, {span_fit}).",
        "" if trained_null else not_used,
        "",
        *threshold_table(table, chosen),
    ]
    if args.check:
        check = load_squad(args.check)
        check_questions = split_questions(check.questions, "fit")
        check_rows, _ = news_rows(check, check_questions, args.store, reader)
        checked = at_threshold(check_rows, chosen["threshold"])
        print(f"on {args.check.name}'s fit part: {checked}")
        table_lines = threshold_table([checked], checked, rows=1)
        title = f"The same threshold on {args.check.name}'s fit part ({len(check_questions)} questions):"
        lines += ["", title, "", *table_lines[:2], table_lines[-1]]
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a SQuAD v2-format news set")
    parser.add_argument("--news", type=Path, help="the news QA set: choose answer_threshold and span_threshold")
    parser.add_argument("--check", type=Path, help="with --news: a SQuAD-format news set to check the threshold on")
    parser.add_argument(
        "--store",
        type=Path,
        default=Path("/tmp/newsbot-calibrate"),
        help="the eval store (shared with `newsbot eval --store`)",
    )
    parser.add_argument("--out", type=Path, help="write the threshold table here (Markdown)")
    parser.add_argument("--limit", type=int, help="ask only this many fit questions (smoke runs)")
    args = parser.parse_args()

    if not READER_FILE.is_file():
        raise SystemExit("no reader weights (index/models/reader.npz): run scripts/train_reader.py first")
    reader = RememberingReader()  # every weight is tried on the same readings
    command = "python " + " ".join(sys.argv)
    if args.news:
        return calibrate_news(args, reader, command)
    if not args.data:
        parser.error("give --data or --news")
    data = load_squad(args.data)
    questions = split_questions(data.questions, "fit")[: args.limit]
    by_weight = {}
    for weight in RANKER_WEIGHTS:
        # The store `newsbot eval --store STORE` builds for the same file; a reader that never refuses.
        models = load_models().with_reader(threshold=-math.inf, ranker_weight=weight)
        never_refuses = [ReaderAnswerer(reader, models=models)]
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
