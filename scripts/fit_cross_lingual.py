"""Fit what a cosine across languages gains in search (retrieval.CROSS_LINGUAL_COSINE).

multilingual-e5 scores two texts in one language higher than the same meaning across two
languages, so an English question finds English articles of other events before the Spanish
article that answers it. Search adds an offset to the cosine of every chunk in another language
than the question. This script asks the news QA set's answerable questions (each part of a
two-part question on its own) through `NewsIndex.search` at each offset tried and reports, per
pair of question and article language, how often an article among the SEARCH_K found holds
the answer. The offset is chosen on the training events; the dev events are reported beside it:

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

OFFSETS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05)


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

    # found[split][offset][pair] = [answer among the hits, ...]
    found: dict[str, dict[float, dict[str, list[bool]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for offset in OFFSETS:
        index.hybrid.cross_lingual_cosine = offset
        for split, questions in splits.items():
            for question, answers, pair in questions:
                hits = index.search(question, k=SEARCH_K)
                holds = any(contains_answer(text.get(h.source, h.text), answers) for h in hits)
                found[split][offset][pair].append(holds)
                found[split][offset]["all"].append(holds)
        print(f"offset {offset}: {time.time() - started:.0f} s", file=sys.stderr, flush=True)

    def share(values: list[bool]) -> str:
        return f"{sum(values) / len(values):.3f}" if values else "—"

    best = max(OFFSETS, key=lambda o: sum(found["train"][o]["all"]))
    pairs = sorted({p for o in OFFSETS for p in found["train"][o] if p != "all"},
                   key=lambda p: -len(found["train"][0.0][p]))  # fmt: skip
    pairs = [p for p in pairs if len(found["train"][0.0][p]) >= 20]
    lines = [
        "# Search across languages: the cosine offset",
        "",
        f"Command: `python scripts/fit_cross_lingual.py --news {args.news} --limit {args.limit} --out {args.out}`",
        "",
        f"Share of answerable questions (parts) with an article among the {SEARCH_K} found that holds the answer,",
        "by the language of the question > of the article it was written on. Best on the training",
        f"events: **{best}**; `CROSS_LINGUAL_COSINE` in `index/search/retrieval.py` says which was kept and why.",
        "",
        "| offset | split | all | " + " | ".join(pairs) + " |",
        "|---:|---|---:|" + "---:|" * len(pairs),
    ]
    for offset in OFFSETS:
        for split in splits:
            cells = [share(found[split][offset][p]) for p in ["all", *pairs]]
            lines.append(f"| {offset:g} | {split} | " + " | ".join(cells) + " |")
    counts = ", ".join(f"{p} {len(found['train'][0.0][p])}" for p in pairs)
    lines += ["", f"Training questions: {counts}; dev: {len(splits['dev'])}. ({time.time() - started:.0f} s)"]
    report = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
