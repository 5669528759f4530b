"""Check batches of the English <-> Spanish news glossary and merge them into the shipped file.

Each batch is one writer's `english<TAB>spanish` lines for one beat, written to the spec in
docs/glossary.md. A batch holds at most MAX_SENSES translations per English word; the merged file
keeps every distinct pair of every batch, in batch order (search splits a word's weight among
its translations, so a word that several beats translate differently weighs no more):

    python scripts/check_glossary.py batches/*.tsv --merge-into index/lexical/glossary_en_es.tsv
    python scripts/check_glossary.py index/lexical/glossary_en_es.tsv --merged
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

MAX_SENSES = 3  # translations per English word within one batch
MAX_WORDS = {"english": 3, "spanish": 4}
_ENGLISH = re.compile(r"[a-z][a-z' -]*")
_SPANISH = re.compile(r"[a-záéíóúüñ][a-záéíóúüñ' -]*")


def problems(path: Path, merged: bool = False) -> list[str]:
    """What is wrong with a batch (or, `merged`, the shipped file): one message per problem."""
    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    senses: Counter[str] = Counter()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        sides = line.split("\t")
        if len(sides) != 2 or not all(side and side == side.strip() for side in sides):
            found.append(f"{path}:{number}: not 'english<TAB>spanish': {line!r}")
            continue
        english, spanish = sides
        if line != line.lower():
            found.append(f"{path}:{number}: not lowercase: {line!r}")
        if not _ENGLISH.fullmatch(english) or not _SPANISH.fullmatch(spanish):
            found.append(f"{path}:{number}: a character that is not a letter of its language: {line!r}")
        if len(english.split()) > MAX_WORDS["english"] or len(spanish.split()) > MAX_WORDS["spanish"]:
            found.append(f"{path}:{number}: a phrase too long to be one term: {line!r}")
        if (english, spanish) in seen:
            found.append(f"{path}:{number}: a repeated pair: {line!r}")
        seen.add((english, spanish))
        senses[english] += 1
    if not merged:
        over = [(word, count) for word, count in senses.items() if count > MAX_SENSES]
        found += [f"{path}: {word!r} has {count} translations (at most {MAX_SENSES})" for word, count in over]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--merged", action="store_true", help="the files are merged glossaries (no per-word limit)")
    parser.add_argument("--merge-into", type=Path, help="write every distinct pair of the batches here")
    args = parser.parse_args()
    found = [p for path in args.files for p in problems(path, args.merged)]
    for problem in found:
        print(problem)
    pairs = list(dict.fromkeys(line for path in args.files for line in path.read_text(encoding="utf-8").splitlines()))
    words = {line.split("\t")[0] for line in pairs}
    print(f"{len(args.files)} file(s): {len(pairs)} distinct pairs, {len(words)} English words, {len(found)} problems")
    if found:
        return 1
    if args.merge_into:
        args.merge_into.write_text("\n".join(pairs) + "\n", encoding="utf-8")
        print(f"wrote {args.merge_into}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
