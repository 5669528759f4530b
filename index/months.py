"""Month names, the one list every reader and writer of dates uses (articles' datelines, dates
named in questions, dates written in answers)."""

from __future__ import annotations

SPANISH_MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
ENGLISH_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Full names → month number, both languages, with "setiembre" (Uruguay, Peru) beside "septiembre".
MONTH_NUMBERS = {
    **{name: number for number, name in enumerate(SPANISH_MONTHS, start=1)},
    **{name: number for number, name in enumerate(ENGLISH_MONTHS, start=1)},
    "setiembre": 9,
}


def month_name(month: int, language: str) -> str:
    """ "enero" for (1, "es"); "January" for (1, "en") and any other language."""
    if language == "es":
        return SPANISH_MONTHS[month - 1]
    return ENGLISH_MONTHS[month - 1].capitalize()
