"""Choose the sentence ranker's refusal threshold (index/models/refusal.json) on the fit part of
a news set.

    python scripts/calibrate_refusal.py --data ../shared/eval/covid19-qa-es/train.squad2.json \
        --store /tmp/evalcovid --out docs/eval/refusal-threshold.md

The refusal model's weights were fitted on SQuAD-es v2 (scripts/train_answerer.py), where an
unanswerable question reuses one Wikipedia paragraph's words; its threshold was chosen there too,
and on real news it refuses one answerable question in five. Here every question of the data
set's fit part (`newsbot eval --split fit`: all articles but every fifth, whose questions are the
held-out news figure) is asked through `NewsIndex.ask` with the model's verdict recorded instead
of applied (the rules of refusal.rules_refuse still apply: what they refuse counts as refused at
every threshold). The threshold kept is the best refusal F1 among those that refuse at most
MAX_FALSE_REFUSALS of the answerable questions and whose refusals are mostly right (most of the
questions they refuse are unanswerable; `metrics.choose_threshold`), as for the reader
(scripts/calibrate_reader.py). When none is, the model refuses nothing and the rules alone do.

The covid19-qa files state no licence, so they choose this one number and train nothing.

With `--news training/newsqa` the threshold is chosen the same way on the news QA set's dev
events (the refusal model is fitted on its training events: scripts/train_answerer.py --news),
and `--check` reports what it does on another set's fit part:

    python scripts/calibrate_refusal.py --news training/newsqa --store /tmp/evalnews \
        --check ../shared/eval/covid19-qa-es/train.squad2.json --check-store /tmp/evalcovid \
        --out docs/eval/refusal-threshold.md
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from index import Settings
from index.answer.answerers import RankerAnswerer, Trace
from index.measure.datasets import EvalQuestion, EvalSet, load_squad, split_questions
from index.measure.evaluate import dataset_index, scored_answers
from index.measure.metrics import Scored, at_threshold, choose_threshold, threshold_table
from index.measure.newsqa import load_newsqa
from index.models import load_fitted, load_models, write_fitted

MAX_FALSE_REFUSALS = 0.05


class Recorder:
    """The ranker's answerer's trace: the refusal model's score of the last question asked."""

    def __init__(self) -> None:
        self.last = -math.inf

    def __call__(self, trace: Trace) -> None:
        self.last = trace.refusal_score


def refusal_scores(data: EvalSet, questions: list[EvalQuestion], store: Path, settings: Settings) -> list[Scored]:
    """Each question asked with the refusal model's verdict recorded instead of applied."""
    recorder = Recorder()
    # Refusing only by rule (-inf): the lowest finite threshold lets every score through.
    models = load_models().with_refusal_threshold(settings.embed_model, -sys.float_info.max)
    answerers = [RankerAnswerer(models=models, trace=recorder)]
    index, paths = dataset_index(data, settings, store, answerers=answerers)
    index.ingest(paths)
    return scored_answers(index, questions, lambda _: recorder.last)


def fit_part(path: Path) -> tuple[EvalSet, list[EvalQuestion]]:
    """A SQuAD v2-format news set and the questions of its fit part (`newsbot eval --split fit`)."""
    data = load_squad(path)
    return data, split_questions(data.questions, "fit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a SQuAD v2-format news set")
    parser.add_argument("--news", type=Path, help="the news QA set's folder (instead of --data): its dev events")
    parser.add_argument(
        "--store", type=Path, default=Path("/tmp/newsbot-calibrate"), help="the eval store (`newsbot eval --store`)"
    )
    parser.add_argument("--check", type=Path, help="a SQuAD v2-format news set to try the threshold on (its fit part)")
    parser.add_argument("--check-store", type=Path, default=Path("/tmp/newsbot-calibrate-check"))
    parser.add_argument("--out", type=Path, help="write the threshold table here (Markdown)")
    parser.add_argument("--limit", type=int, help="ask only this many fit questions (smoke runs)")
    args = parser.parse_args()

    settings = Settings.from_env().with_overrides(answerer="ranker")
    if args.news:
        data = load_newsqa(args.news)
        questions = [q for q in data.questions if q.split == "dev"][: args.limit]
        described = f"the news QA set's dev events ({len(questions)} questions)"
    elif args.data:
        data, questions = fit_part(args.data)
        questions = questions[: args.limit]
        described = f"{args.data.name}, fit part ({len(questions)} questions; every fifth article held out)"
    else:
        parser.error("give --data or --news")
    rows = refusal_scores(data, questions, args.store, settings)
    chosen, table = choose_threshold(rows, MAX_FALSE_REFUSALS)
    fitted = load_fitted("refusal.json")
    model = settings.embed_model
    before = at_threshold(rows, fitted["models"][model]["threshold"])
    fitted["models"][model] = {
        **fitted["models"][model],
        "threshold": round(chosen["threshold"], 3),
        "threshold_chosen_by": "python " + " ".join(sys.argv),
        "threshold_data": described,
        "threshold_fit": {k: round(v, 3) for k, v in chosen.items()},
    }
    write_fitted("refusal.json", fitted)
    print(f"threshold {chosen['threshold']:.3f}: {chosen}\nbefore: {before}")
    checked: list[str] = []
    if args.check:
        check_rows = refusal_scores(*fit_part(args.check), args.check_store, settings)
        result = at_threshold(check_rows, chosen["threshold"])
        print(f"on {args.check.name}'s fit part: {result}")
        checked = [
            "",
            f"Checked on {args.check.name}'s fit part ({len(check_rows)} questions): refusal F1 "
            f"{result['refusal_f1']:.3f}, false refusals {result['false_refusals']:.3f}, containment "
            f"{result['containment_answered']:.3f} of answered / {result['containment_all']:.3f} of all answerable.",
        ]
    if args.out:
        lines = [
            f"# The sentence ranker's refusal threshold ({model})",
            "",
            f"Command: `python {' '.join(sys.argv)}`  ",
            f"{described[0].upper()}{described[1:]}, {sum(r.answerable for r in rows)} of them answerable. "
            "Chosen: the best refusal F1 with at most "
            f"{MAX_FALSE_REFUSALS:.0%} of answerable questions refused, among the thresholds whose refusals "
            "are mostly unanswerable questions (else the lowest). Refused by rule at every threshold: "
            f"{sum(r.score == -math.inf for r in rows)} questions.",
            "",
            f"The threshold in use before this run, {before['threshold']}, gave here: refusal F1 "
            f"{before['refusal_f1']:.3f}, false refusals {before['false_refusals']:.3f}, containment "
            f"{before['containment_answered']:.3f} of answered / {before['containment_all']:.3f} of all answerable.",
            "",
            *threshold_table(table, chosen),
            *checked,
        ]
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
