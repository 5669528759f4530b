"""Generated news articles for the load and fault tests: many small, distinct, searchable files.

Each article names a made-up neighbourhood (`barrio_name(n)`), a word no other article and no
sample article contains, so a search for it proves that exactly that article is indexed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

_SYLLABLES = ("ka", "lo", "mi", "ru", "te", "sa", "vo", "ni", "pe", "du", "ga", "zi")
_PARAGRAPHS = (
    "Los vecinos del barrio {barrio} se reunieron el {day} de {month} para revisar el proyecto de "
    "alumbrado público, que prevé {n} luminarias nuevas y una inversión de {money} millones de pesos.",
    "Según la oficina de obras, los trabajos en {barrio} empezarán en {month_next} y durarán "
    "{weeks} semanas; el tránsito se desviará por las calles laterales durante las noches.",
    "La asociación de comerciantes de {barrio} pidió que las obras respeten el horario de los "
    "mercados y que se instalen señales claras para los peatones y los ciclistas del barrio.",
    "El ayuntamiento informó que el proyecto forma parte del plan municipal de seguridad y que "
    "otras {others} colonias recibirán mejoras parecidas antes de que termine el año.",
)
_MONTHS = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()


def barrio_name(n: int) -> str:
    """A made-up, capitalised word, unique per n (three syllables in base 12, plus a suffix)."""
    a, b, c = n % 12, (n // 12) % 12, (n // 144) % 12
    return f"{_SYLLABLES[a]}{_SYLLABLES[b]}{_SYLLABLES[c]}quen".capitalize()


def article_text(n: int, paragraphs: int = 4) -> str:
    date = dt.date(2025, 1, 1) + dt.timedelta(days=n % 360)
    values = {
        "barrio": barrio_name(n),
        "day": date.day,
        "month": _MONTHS[date.month - 1],
        "month_next": _MONTHS[date.month % 12],
        "n": 40 + n % 60,
        "money": 3 + n % 17,
        "weeks": 6 + n % 10,
        "others": 2 + n % 9,
    }
    body = "\n\n".join(_PARAGRAPHS[i % len(_PARAGRAPHS)].format(**values) for i in range(paragraphs))
    headline = f"Nuevo alumbrado para el barrio {values['barrio']}"
    return f" date {date.isoformat()} {headline} | Gaceta Sintética\n\n{body}\n"


def write_articles(folder: Path, numbers: range | list[int], paragraphs: int = 4) -> list[Path]:
    """One seed-format file per number in `folder`; returns the paths, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in numbers:
        path = folder / f"sintetico-{n:04d}.txt"
        path.write_text(article_text(n, paragraphs), encoding="utf-8")
        paths.append(path)
    return paths
