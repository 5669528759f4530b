"""Fitted data that ships with the package, each file written by the script that fits it.

- `ranker.json`: the sentence ranker's weight per feature (scripts/train_answerer.py).
- `refusal.json`: the refusal model per embedding model (scripts/train_answerer.py).
- `reader.npz`: the reader's trained layers and span head (scripts/train_reader.py; README.md).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

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
    return target
