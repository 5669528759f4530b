"""The `newsbot` command as a user runs it: a real subprocess, a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SAMPLE_ARTICLES


def newsbot(*args: str, store: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    full_env.update({"NEWSBOT_STORE": str(store), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "index.cli", *args],
        capture_output=True, text=True, env=full_env, timeout=300, cwd=store.parent,
    )  # fmt: skip


@pytest.mark.slow
def test_ingest_search_stats_ask_sources_as_json(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ingest = newsbot("ingest", str(SAMPLE_ARTICLES), str(tmp_path / "nope.txt"), "--json", store=store)
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    assert len(report["added"]) == 6 and report["chunks"] >= 6
    assert report["skipped"] == [{"source": str(tmp_path / "nope.txt"), "reason": "no such file or folder"}]

    again = json.loads(newsbot("ingest", str(SAMPLE_ARTICLES), "--json", store=store).stdout)
    assert len(again["unchanged"]) == 6 and again["chunks"] == 0

    hits = json.loads(newsbot("search", "pipas", "-k", "2", "--json", store=store).stdout)
    assert len(hits) == 2 and hits[0]["outlet"] == "Noticias Metropolitanas"
    assert set(hits[0]) >= {"source", "title", "outlet", "date", "text", "score"}

    stats = json.loads(newsbot("stats", "--json", store=store).stdout)
    assert (stats["articles"], stats["last_ingest"] is not None) == (6, True)
    assert stats["chunks"] >= 6

    answer = json.loads(newsbot("ask", "¿Cuántas pipas rentará el municipio?", "--json", store=store).stdout)
    assert set(answer) >= {"text", "citations", "refused", "language"}
    assert "150 pipas" in answer["text"] and answer["citations"][0]["number"] == 1

    listed = json.loads(newsbot("sources", "--json", "--limit", "3", store=store).stdout)
    assert [a["date"] for a in listed] == ["2026-03-28", "2026-03-02", "2026-02-20"]


def test_asking_an_empty_index_says_it_is_empty(tmp_path: Path) -> None:
    # A user who asks before ingesting gets the refusal and, on stderr, what to do about it.
    asked = newsbot("ask", "¿Cuántas pipas rentará el municipio?", store=tmp_path / "store")
    assert asked.returncode == 0 and asked.stdout.startswith("No encuentro esa información")
    assert "is empty" in asked.stderr and "newsbot ingest" in asked.stderr


@pytest.mark.slow
def test_human_output_and_prune(tmp_path: Path) -> None:
    store = tmp_path / "store"
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "uno.txt"
    article.write_text(" date 2026-05-01 Titular de prueba| Diario\n\nEl cabildo aprobó el presupuesto.", "utf-8")
    (folder / "roto.txt").write_bytes(b"\xff\xfe\x00binary")
    first = newsbot("ingest", str(folder), store=store)
    assert first.returncode == 0
    assert "added 1" in first.stdout and "skipped 1" in first.stdout
    assert "roto.txt: binary file" in first.stderr
    answer = newsbot("ask", "¿Qué aprobó el cabildo?", store=store)
    assert "presupuesto" in answer.stdout and "[1]" in answer.stdout and "2026-05-01" in answer.stdout
    article.unlink()
    pruned = newsbot("ingest", str(folder), "--prune", store=store)
    assert "removed 1" in pruned.stdout


@pytest.mark.slow
def test_errors_are_one_line_and_exit_non_zero(tmp_path: Path) -> None:
    store = tmp_path / "store"
    bad_model = newsbot("stats", store=store, env={"NEWSBOT_EMBED_MODEL": "gpt-9"})
    assert bad_model.returncode == 1
    assert bad_model.stderr.strip().count("\n") == 0
    assert bad_model.stderr.startswith("newsbot: error: NEWSBOT_EMBED_MODEL must be one of")
    empty = newsbot("search", "   ", store=store)
    assert empty.returncode == 1 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    bad_date = newsbot("ask", "presas", "--since", "2026-13-01", store=store)
    assert bad_date.returncode == 1 and "invalid date" in bad_date.stderr


@pytest.mark.slow
def test_secrets_never_reach_output(tmp_path: Path) -> None:
    secret = "sk-test-SECRET-1234567890"
    result = newsbot("-v", "stats", "--json", store=tmp_path / "store", env={"NEWSBOT_LLM_API_KEY": secret})
    assert result.returncode == 0
    assert secret not in result.stdout + result.stderr
    from index.settings import Settings

    assert secret not in repr(Settings(llm_api_key=secret, discord_token=secret))


def test_readme_commands_are_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->", 2)[1]
    test_command = "\n".join(line for line in block.strip().splitlines() if not line.startswith("```")).strip()
    assert test_command.startswith("python3 -m venv")
    assert test_command in ci
