"""Fit how search reaches across languages: what a cosine across languages gains
(retrieval.CROSS_LINGUAL_COSINE), what the question's words in the other language weigh in
BM25 (retrieval.TRANSLATION_WEIGHT, the glossary's translations), and what share of such a
cosine is the question's gloss's (retrieval.GLOSS_WEIGHT).

multilingual-e5 scores two texts in one language higher than the same meaning across two
languages, so an English question finds English articles of other events before the Spanish
article that answers it; and BM25 matches only the names and figures the languages share. Search
adds an offset to the cosine of every chunk in another language than the question, the
glossary's translations of the question's words to BM25, and mixes that cosine with the one to
the question's gloss (its words in the other language). This script asks the news QA set's
answerable questions (each part of a two-part question on its own) through `NewsIndex.search`
at each setting tried and reports, per pair of question and article language, how
often the first article found holds the answer, and how often one of the SEARCH_K found does.
The settings are chosen on the training events; the dev events are reported beside them:

    python scripts/fit_cross_lingual.py --news training/newsqa --work /tmp/ng --out docs/eval/cross-lingual.md
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from reader_groups import news_questions  # scripts/ is on the path when a script in it runs

from index import Settings
from index.answer.question import SEARCH_K, clean_query, read_intent
from index.measure.evaluate import dataset_index
from index.measure.metrics import contains_answer
from index.measure.newsqa import load_batches, load_newsqa

# first / found [split][(offset, glossary weight, gloss share)][language pair]
Found = dict[str, dict[tuple[float, float, float], dict[str, list[bool]]]]

OFFSETS = (0.02, 0.03, 0.04)
TRANSLATION_WEIGHTS = (1.0, 1.5)
GLOSS_WEIGHTS = (0.0, 0.25, 0.5)
SETTINGS = [(o, w, g) for o in OFFSETS for w in TRANSLATION_WEIGHTS for g in GLOSS_WEIGHTS]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--news", type=Path, required=True, help="the news QA set's folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbot-cross-lingual"))
    parser.add_argument("--limit", type=int, default=1500, help="training questions sampled")
    parser.add_argument("--out", type=Path, help="write a Markdown report here")
    args = parser.parse_args()
    started = time.time()
    dataset = load_newsqa(args.news)
    index, paths = dataset_index(dataset, Settings.from_env(), args.work)
    index.ingest(paths)
    text = {a.source: a.text for a in dataset.articles}
    language = {aid: a.article.language for b in load_batches(args.news) for aid, a in b.articles.items()}
    # (question, its answers, "question language>article language"), per split
    asked = [
        (
            str(q["question"]),
            [str(a) for a in q["answers"]],  # type: ignore[attr-defined]
            f"{read_intent(clean_query(str(q['question']))).language}>{language.get(str(q['article']), '?')}",
            q["split"],
        )
        for q in news_questions(args.news)
        if q["answerable"]
    ]
    train = [a[:3] for a in asked if a[3] == "train"]
    random.Random(0).shuffle(train)
    splits = {"train": train[: args.limit], "dev": [a[:3] for a in asked if a[3] == "dev"]}

    # first[split][setting][pair] = [the first article holds the answer, ...]; found: any of SEARCH_K
    first: Found = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    found: Found = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for setting in SETTINGS:
        index.hybrid.cross_lingual_cosine, index.hybrid.translation_weight, index.hybrid.gloss_weight = setting
        for split, questions in splits.items():
            for question, answers, pair in questions:
                hits = index.search(question, k=SEARCH_K)
                holds = [contains_answer(text.get(h.source, h.text), answers) for h in hits]
                for key in (pair, "all"):
                    first[split][setting][key].append(bool(holds[:1]) and holds[0])
                    found[split][setting][key].append(any(holds))
        print(f"{setting}: {time.time() - started:.0f} s", file=sys.stderr, flush=True)

    def share(values: list[bool]) -> str:
        return f"{sum(values) / len(values):.3f}" if values else "—"

    best = max(SETTINGS, key=lambda s: sum(first["train"][s]["all"]))
    base = SETTINGS[0]
    pairs = sorted((p for p in first["train"][base] if p != "all"), key=lambda p: -len(first["train"][base][p]))
    pairs = [p for p in pairs if len(first["train"][base][p]) >= 20]
    lines = [
        "# Search across languages: the cosine offset, the glossary's weight, the gloss's share",
        "",
        f"Command: `python scripts/fit_cross_lingual.py --news {args.news} --limit {args.limit} --out {args.out}`",
        "",
        "Share of answerable questions (parts) whose first article found holds the answer, by the",
        "language of the question > of the article it was written on, and (last column) the share",
        f"with the answer in one of the {SEARCH_K} articles found. Best on the training events (first",
        f"article, all questions): offset **{best[0]}**, weight **{best[1]}**, gloss share **{best[2]}**;",
        "`CROSS_LINGUAL_COSINE`, `TRANSLATION_WEIGHT` and `GLOSS_WEIGHT` in `index/search/retrieval.py`",
        "say what was kept and why.",
        "",
        "| offset | glossary weight | gloss share | split | all | " + " | ".join(pairs) + f" | all, in {SEARCH_K} |",
        "|---:|---:|---:|---|---:|" + "---:|" * (len(pairs) + 1),
    ]
    for setting in SETTINGS:
        for split in splits:
            cells = [share(first[split][setting][p]) for p in ["all", *pairs]] + [share(found[split][setting]["all"])]
            lines.append(f"| {setting[0]:g} | {setting[1]:g} | {setting[2]:g} | {split} | " + " | ".join(cells) + " |")
    counts = ", ".join(f"{p} {len(first['train'][base][p])}" for p in pairs)
    lines += ["", f"Training questions: {counts}; dev: {len(splits['dev'])}. ({time.time() - started:.0f} s)"]
    report = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
