"""The questions a question asks: one, or two when it joins two ("¿Cuándo abre la línea y cuánto
costará el boleto?"). Each part is read and answered on its own (question.understand).
"""

from __future__ import annotations

import re

_QUESTION_WORD = (
    r"(?:cu[aá]nd[oa]|cu[aá]nt[oa]s?|qu[eé]|qui[eé]n(?:es)?|d[oó]nde|c[oó]mo|por qu[eé]|cu[aá]l(?:es)?|"
    r"when|what|how|who|where|why|which)"
)
_ANY_QUESTION = re.compile(rf"\b{_QUESTION_WORD}\b", re.IGNORECASE)
_QUESTION_ALONE = re.compile(rf"^{_QUESTION_WORD}$", re.IGNORECASE)
# A preposition may come before the second question word: "… y en cuántas colonias?", "… and at
# which stadium?".
_PREPOSITION = (
    r"(?:a|en|de|desde|hasta|hacia|para|con|por|sobre|entre|contra|tras|ante|bajo|cerca\s+de|"
    r"at|in|on|from|for|to|by|with|of|after|before|until|since|over|under|during|into|near|towards?)"
)
# "¿Cuándo abre la línea y cuánto costará el boleto?": a second question word after "y"/"and"
# starts a second question.
_SECOND_QUESTION = re.compile(
    rf",?\s+(?:y|e|and)\s+(?=(?:{_PREPOSITION}\s+)?{_QUESTION_WORD}\b\s+\w+)",
    re.IGNORECASE,
)
# "¿Cuándo y dónde se reunirá la comisión?", "When and where was she born?": two question words
# for one clause, each asked of it.
_TWO_QUESTION_WORDS = re.compile(
    rf"^(?P<open>¿?)(?P<first>{_QUESTION_WORD})\s+(?:y|e|and)\s+(?P<second>{_QUESTION_WORD})\s+(?P<rest>\w.*)$",
    re.IGNORECASE | re.DOTALL,
)
# "¿Cuánto costó según El Diario y según La Voz?", "… according to X and to Y?": one question
# asked of two sources, where outlets give a fact differently. "Según" must come again: "según
# el Ministerio de Salud y Protección Social" names one source.
_TWO_SOURCES = re.compile(
    r"^(?P<asked>.*?\b)(?P<by>según|de acuerdo con|according to)\s+(?P<first>[^?]+?),?\s+"
    r"(?:y|e|and)\s+(?:según|de acuerdo con|according to|to)\s+(?P<second>[^?]+?)\s*(?P<close>\??)\s*$",
    re.IGNORECASE | re.DOTALL,
)
# "¿Cuándo empezarán las obras y dónde?", "Who filed the lawsuit, and when?": a bare question
# word at the end asks it of the clause before.
_TRAILING_QUESTION_WORD = re.compile(
    rf"^(?P<first>.+?),?\s+(?:y|e|and)\s+(?P<second>(?:{_PREPOSITION}\s+)?{_QUESTION_WORD})\s*\??\s*$",
    re.IGNORECASE | re.DOTALL,
)
_LEADING_QUESTION_WORD = re.compile(rf"^¿?(?:how\s+(?:many|much)|{_QUESTION_WORD})\b\s*", re.IGNORECASE)
# The noun a question word asks about, as in "cuántos kilómetros de alambrado", "cuántos aviones y
# helicópteros": one word, and more after "de" / "of" / "y" / "and".
_ASKED_NOUN = re.compile(r"^\w+(?:\s+(?:de|del|of|y|e|and)\s+\w+)*\s+", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The questions a question asks: one, or two when it joins two. "¿Cuándo abre la línea y
    cuánto costará el boleto?" -> "¿Cuándo abre la línea?", "¿cuánto costará el boleto?";
    "¿Cuándo y dónde abre?" -> "¿Cuándo abre?", "¿dónde abre?"; "¿Cuántos pisos y cuántos
    departamentos tiene?" -> "¿Cuántos pisos tiene?", "¿cuántos departamentos tiene?"; "¿Cuándo
    abre y dónde?" -> "¿Cuándo abre?", "¿dónde abre?"; "¿Cuánto costó según A y según B?" ->
    "¿Cuánto costó según A?", "¿Cuánto costó según B?"."""
    question = question.strip()
    opening = "¿" if question.startswith("¿") else ""
    closing = "?" if question.endswith("?") else ""
    both = _TWO_QUESTION_WORDS.match(question)
    if both and len(re.findall(r"\w+", both["rest"])) >= 2:
        return [f"{opening}{both['first']} {both['rest']}", f"{opening}{both['second']} {both['rest']}"]
    match = _SECOND_QUESTION.search(question)
    if match and _ANY_QUESTION.search(question[: match.start()]):
        first, second = question[: match.start()].strip(), question[match.end() :].strip()
        second = second if second.startswith("¿") else f"{opening}{second}"
        if len(re.findall(r"\w+", first)) >= 3:
            return [first if first.endswith("?") or not closing else f"{first}{closing}", second]
        # "¿Cuántos pisos y cuántos departamentos tiene la torre?": the first asks its noun of
        # what follows the second's.
        asked_word, _, rest = second.lstrip("¿").partition(" ")
        shared = _ASKED_NOUN.sub("", rest, count=1)
        if _QUESTION_ALONE.match(asked_word) and shared != rest and len(re.findall(r"\w+", shared)) >= 2:
            return [f"{first} {shared}", second]
        return [question]
    trailing = _TRAILING_QUESTION_WORD.match(question)
    if trailing and _LEADING_QUESTION_WORD.match(trailing["first"]):
        # The clause asked again with the trailing question word in place of its own.
        clause = _LEADING_QUESTION_WORD.sub("", trailing["first"], count=1).rstrip("?")
        if len(re.findall(r"\w+", clause)) >= 2:
            return [f"{trailing['first'].rstrip('?')}{closing}", f"{opening}{trailing['second']} {clause}{closing}"]
    return _by_source(question)


def _by_source(question: str) -> list[str]:
    """One question asked of two sources, as two; else the question alone."""
    sources = _TWO_SOURCES.match(question)
    if not sources or _ANY_QUESTION.search(sources["second"]) or not _ANY_QUESTION.search(sources["asked"]):
        return [question]
    asked, by, close = sources["asked"], sources["by"], sources["close"]
    return [f"{asked}{by} {sources['first']}{close}", f"{asked}{by} {sources['second']}{close}"]
