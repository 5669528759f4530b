"""What the command lines share: opening the index their arguments name, printing JSON.
(index/cli.py and index/measure/ both use it; neither imports the other's internals.)"""

from __future__ import annotations

import argparse
import json
from typing import Any


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def open_index(args: argparse.Namespace) -> Any:
    from .newsindex import NewsIndex  # imported late: `newsbot --help` stays instant

    return NewsIndex(getattr(args, "store", None), settings=args.settings)
