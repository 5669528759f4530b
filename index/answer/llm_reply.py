"""Checking an LLM's reply before anyone reads it: reasoning blocks, prompt echoes and labels
stripped, citation markers in any of the forms small models write renumbered [1]..[m] (markers
that point nowhere dropped), the refusal token recognised, the length capped at a sentence end,
and the language checked against the question's. See llm.py for the contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LLMError
from ..language import detect_language
from ..schema import CITATION_MARKER, strip_markers

REFUSAL_TOKEN = "NO_ANSWER"
MAX_REPLY_CHARS = 800  # an LLM reply longer than this is cut at a sentence end
MIN_ANSWER_CHARS = 2  # letters or digits outside the markers; "36 % [1]" answers "¿qué nivel?"
LANGUAGE_CHECK_MIN_LETTERS = 30  # below this, language detection on a reply is a guess
# The languages the prompt names (a reply is checked against them; others are not checked).
LANGUAGE_NAMES = {
    "es": "Spanish (español)",
    "en": "English",
    "pt": "Portuguese (português)",
    "fr": "French (français)",
    "it": "Italian (italiano)",
    "de": "German (Deutsch)",
    "ca": "Catalan (català)",
}


_THINK_BLOCK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.IGNORECASE | re.DOTALL)
_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_REFUSAL = re.compile(rf"[\s*_`\"'.:-]*{REFUSAL_TOKEN}\b", re.IGNORECASE)  # the reply starts with the token
# A base (non-instruct) model continues the prompt instead of answering; its "answer" would then
# carry the rules' own "[1] or [1][2]" example as citations. These phrases only occur in the prompt.
_PROMPT_ECHO = re.compile(
    rf"<<<\s*(?:END\s+)?SOURCE|never an instruction to you|citing the sources as \[n\]|with exactly {REFUSAL_TOKEN}",
    re.IGNORECASE,
)
_LEAD_LABEL = re.compile(
    r"^\s*(?:[*_#]+\s*)?(?:final answer|answer|respuesta final|respuesta|réponse|resposta|risposta|antwort|"
    r"resposta|a|r)\s*[*_]*\s*[:：]\s*[*_]*\s*",
    re.IGNORECASE,
)
# [1], [1][2], [1, 2], [1-3], [Source 1], [Fuente 2], 【1】 (digits may be full-width).
_MARKER = re.compile(
    r"[\[【]\s*(?:(?:sources?|fuentes?|fonte|ref\.?)\s*:?\s*)?"
    r"(\d{1,6}(?:\s*(?:[,;–-]|y|and)\s*\d{1,6})*)\s*[\]】]",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?。](?:\s*\[\d+\])*(?=\s|$)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?。])")
MAX_RANGE = 10  # "[1-3]" is expanded; "[1-900]" is not a citation


@dataclass(frozen=True)
class ValidatedReply:
    text: str  # the answer with markers renumbered [1]..[m]; "" for a refusal
    sources: list[int]  # sources[k - 1] = the original 1-based source number cited as [k]

    @property
    def refused(self) -> bool:
        return not self.sources


_LIST_SEP = re.compile(r"\s*(?:[,;]|\by\b|\band\b)\s*", re.IGNORECASE)
_RANGE_SEP = re.compile(r"\s*[–-]\s*")


def _marker_numbers(body: str) -> list[int]:
    """The numbers in a marker's body, in the order written; "1-3" is expanded."""
    numbers: list[int] = []
    for part in _LIST_SEP.split(body.strip()):
        ends = [int(x) for x in _RANGE_SEP.split(part) if x]
        if len(ends) == 1:
            numbers.append(ends[0])
        elif len(ends) == 2 and 0 <= ends[1] - ends[0] <= MAX_RANGE:
            numbers.extend(range(ends[0], ends[1] + 1))
    return numbers


def _strip_reasoning(text: str) -> str:
    text = _THINK_BLOCK.sub(" ", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # some servers drop the opening tag: keep what follows the last closing one
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:  # reasoning that never closed (cut by max_tokens): it is not an answer
        text = text[: opened.start()]
    return text


def _cap(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    ends = list(_SENTENCE_END.finditer(head))
    if ends and ends[-1].end() > max_chars // 3:
        return head[: ends[-1].end()]
    return head.rsplit(" ", 1)[0].rstrip(" ,;:") + " …"


def validate_reply(raw: str | None, n_sources: int, max_chars: int = MAX_REPLY_CHARS) -> ValidatedReply:
    """Clean a model's reply and check its citations against `n_sources` numbered sources.

    Returns ValidatedReply("", []) for the refusal token. Raises LLMError for an empty or
    garbage reply and for one with no citation that points at a source.
    """
    text = _strip_reasoning(raw or "").strip()
    if not text:
        raise LLMError("the LLM returned an empty reply")
    if _PROMPT_ECHO.search(text):
        raise LLMError("the LLM echoed the prompt instead of answering")
    if _REFUSAL.match(text):
        return ValidatedReply("", [])
    for _ in range(2):  # "**Respuesta:** Answer: ..." happens
        text = _LEAD_LABEL.sub("", text, count=1)
    text = _cap(" ".join(text.split()), max_chars)

    mapping: dict[int, int] = {}  # original source number -> new number

    def renumber(match: re.Match[str]) -> str:
        new_numbers: list[int] = []
        for number in _marker_numbers(match.group(1)):
            if not 1 <= number <= n_sources:
                continue  # points nowhere: dropped
            new = mapping.setdefault(number, len(mapping) + 1)
            if new not in new_numbers:
                new_numbers.append(new)
        return "".join(f"[{n}]" for n in new_numbers)

    text = _MARKER.sub(renumber, text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split())).strip()
    if not mapping:
        raise LLMError("the LLM reply has no valid citation")
    if sum(ch.isalnum() for ch in CITATION_MARKER.sub("", text)) < MIN_ANSWER_CHARS:
        raise LLMError("the LLM reply is not an answer")
    return ValidatedReply(text, sorted(mapping, key=mapping.__getitem__))


def check_language(text: str, language: str) -> None:
    """LLMError when a reply long enough to tell is written in another language than asked."""
    plain = strip_markers(text)
    if language not in LANGUAGE_NAMES or sum(ch.isalpha() for ch in plain) < LANGUAGE_CHECK_MIN_LETTERS:
        return
    found = detect_language(plain, default=language)
    if found != language:
        raise LLMError(f"the LLM answered in {found!r}, the question is in {language!r}")


# --- Calling the model ---------------------------------------------------------------------------
