"""Check the news QA training set (training/newsqa/) and print its statistics.

    python scripts/check_training_set.py training/newsqa              # every batch
    python scripts/check_training_set.py training/newsqa/batches/NAME # one batch
    python scripts/check_training_set.py --sentences ARTICLE.txt      # a body as the product splits it

Format and rules: training/newsqa/SPEC.md. Exit status 1 when any error is found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.measure.newsqa import load_batches, print_sentences
from index.measure.newsqa_check import check_set, render_report, squad_overlap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="the set's folder, one batch's folder, or (--sentences) an article")
    parser.add_argument("--sentences", action="store_true", help="print the article's sentences, numbered")
    parser.add_argument("--quiet", action="store_true", help="errors and the summary only")
    parser.add_argument("--squad", type=Path, help="also print the word overlap of this SQuAD-format file's questions")
    parser.add_argument(
        "--strict", action="store_true", help="every unanswerable question must have had its second reading (CI)"
    )
    args = parser.parse_args()
    if args.sentences:
        print_sentences(args.path)
        return 0
    batches = load_batches(args.path)
    report = check_set(batches, strict=args.strict)
    print(render_report(report, verbose=not args.quiet))
    if args.squad:
        print(f"  question-sentence word overlap (mean) of {args.squad.name}: {squad_overlap(args.squad):.2f}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
