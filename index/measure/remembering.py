"""A reader that remembers its logits, for measurements that read the same pairs many times.

The calibration tries several weights on the same questions, and the ceiling script reads each
question's candidates for the ranking column, for the span head and once more through the
product's answerer. All of these go through `Reader.logits`, which depends on one pair alone;
what `Reader.rank` and `Reader.read` make of the logits (the nan-cosine fill, which depends on the
whole list; the best span) is computed afresh each call. So caching the logits, and only them,
gives every caller exactly what the plain reader would.

Measurement only: the product reads each question once and keeps nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..answer.reader import READER_FILE, PairEncoding, Reader


class RememberingReader(Reader):
    """`Reader` whose `logits` of a pair already read come from memory."""

    def __init__(self, path: Path = READER_FILE) -> None:
        super().__init__(path)
        self.remembered: dict[tuple[int, ...], np.ndarray] = {}
        self.pairs_read = 0  # pairs the model actually ran on (the rest came from memory)

    def logits(self, pairs: Sequence[PairEncoding]) -> list[np.ndarray]:
        keys = [tuple(pair.ids) for pair in pairs]
        missing = list({key: pair for key, pair in zip(keys, pairs, strict=True) if key not in self.remembered}.items())
        if missing:
            read = super().logits([pair for _key, pair in missing])
            self.remembered.update(zip([key for key, _pair in missing], read, strict=True))
            self.pairs_read += len(missing)
        return [self.remembered[key] for key in keys]
