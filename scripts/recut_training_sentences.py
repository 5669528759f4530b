"""Re-cut the news QA set's answering sentences after a change to the sentence splitter.

Each question part names its answering sentence as `index.search.sentences.split_sentences`
cuts its article. When the splitter changes, a sentence may be joined to a neighbour (it now
ends at "U.S." no more) or cut in two (it now ends after "el jueves 7."): this script replaces
each sentence that is no longer one of its article's sentences with the new sentence that
holds it (joined) or the one it holds that carries the part's answers (cut). It prints every
replacement and each part it cannot place, for `scripts/check_training_set.py` to report.

    python scripts/recut_training_sentences.py training/newsqa
"""

from __future__ import annotations

import argparse
import json
import sys
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.measure.newsqa import batch_folders, read_article
from index.search.sentences import split_sentences

MIN_SHARED_CHARS = 30  # a stretch of text this long is no coincidence between two sentences


def new_sentence(old: str, answers: list[str], sentences: list[str]) -> str | None:
    """The sentence of `sentences` that now stands for `old`, or None when none does."""
    joined = [s for s in sentences if old in s]
    if len(joined) == 1:
        return joined[0]
    cut = [s for s in sentences if s in old and all(a in s for a in answers)]
    if len(cut) == 1:
        return cut[0]
    # Both at once ("…before U.S. | District Judge …, June 8. Defense lawyer …"): the sentence
    # with the answers that shares a stretch of text with the old one.
    shared = [s for s in sentences if all(a in s for a in answers) and longest_shared(s, old) >= MIN_SHARED_CHARS]
    return shared[0] if len(shared) == 1 else None


def longest_shared(a: str, b: str) -> int:
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def parts_of(value: Any) -> list[dict]:
    """Every dict under `value` that names an article and a sentence (a part, an outdated answer)."""
    if isinstance(value, dict):
        found = [value] if "article" in value and "sentence" in value else []
        return found + [p for v in value.values() for p in parts_of(v)]
    if isinstance(value, list):
        return [p for v in value for p in parts_of(v)]
    return []


def locate(text: str, sentence: str, start: int) -> tuple[int, str]:
    """Where `sentence`, JSON-encoded as the file writes it, next stands from `start`, and how
    it is written there; (-1, "") when it is not found."""
    for ascii_only in (False, True):
        written = json.dumps(sentence, ensure_ascii=ascii_only)
        where = text.find(written, start)
        if where >= 0:
            return where, written
    return -1, ""


def recut(batch: Path) -> tuple[int, int]:
    """Re-cut one batch's questions.json in place: (sentences replaced, sentences not placed)."""
    path = batch / "questions.json"
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    sentences: dict[str, list[str]] = {}
    replaced = unplaced = 0
    cursor = 0  # parts are met in the file's order; each is edited where it stands in the text
    for question in data["questions"]:
        for part in parts_of(question):
            article_id, old = part["article"], part["sentence"]
            where, written = locate(text, old, cursor)
            cursor = where + len(written) if where >= 0 else cursor
            if not old or where < 0:
                continue
            if article_id not in sentences:  # each article read and split once
                article_file = next((batch / "articles").glob(f"{article_id}.*"), None)
                sentences[article_id] = split_sentences(read_article(article_file).text) if article_file else []
            if not sentences[article_id] or old in sentences[article_id]:
                continue
            answers = [a for a in part.get("answers", []) if a]
            found = new_sentence(old, answers, sentences[article_id])
            if found is None:
                unplaced += 1
                print(f"{question['id']}: not placed: {old[:80]!r}")
                continue
            ascii_only = written != json.dumps(old, ensure_ascii=False)
            new_written = json.dumps(found, ensure_ascii=ascii_only)
            text = text[:where] + new_written + text[where + len(written) :]
            cursor = where + len(new_written)
            replaced += 1
            print(f"{question['id']}: {old[:50]!r}… → {found[:50]!r}…")
    if replaced:
        path.write_text(text, encoding="utf-8")
    return replaced, unplaced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", type=Path, help="the set's folder (training/newsqa) or one batch")
    args = parser.parse_args()
    replaced = unplaced = 0
    for batch in batch_folders(args.set):
        done, left = recut(batch)
        replaced, unplaced = replaced + done, unplaced + left
    print(f"{replaced} sentences re-cut, {unplaced} not placed")
    sys.exit(1 if unplaced else 0)


if __name__ == "__main__":
    main()
