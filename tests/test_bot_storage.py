"""The bot's SQLite state and its limits (cooldown, concurrent questions, settings)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from bot import limits as limits_module
from bot.limits import BotLimits, Busy, Cooldown, QuestionSlots
from bot.storage import AnswerRecord, Storage, VoteResult
from index import SUPPORTED_SUFFIXES, Answer, Citation, ConfigError


def answer(question: str = "¿Cómo están las presas?") -> Answer:
    quote = "Las presas están al 41 %."
    return Answer(
        question,
        "Están al 41 % [1].",
        [Citation(1, "/a.txt", "Presas", "Diario", "2026-02-03", quote)],
        False,
        "es",
    )


def save(storage: Storage, answer_id: str, *, thread_id: int | None = None, question: str = "q", at: float = 0) -> None:
    record = AnswerRecord(
        answer_id, answer(question), user_id=7, guild_id=1, channel_id=2, thread_id=thread_id, created_at=at
    )
    storage.save_answer(record)


def test_answers_survive_reopening(tmp_path: Path) -> None:
    storage = Storage.beside(tmp_path)
    save(storage, "a" * 12)
    storage.close()
    reopened = Storage(tmp_path / "feedback.sqlite3")
    restored = reopened.get_answer("a" * 12)
    assert restored == answer("q")  # citations included, as dataclasses
    assert reopened.get_answer("b" * 12) is None


def test_one_vote_per_user_and_answer_changeable(tmp_path: Path) -> None:
    storage = Storage.beside(tmp_path)
    save(storage, "a" * 12, question="¿Nivel de las presas?")
    assert storage.record_vote("a" * 12, 10, 1, now=100.0) is VoteResult.NEW
    assert storage.record_vote("a" * 12, 10, 1, now=101.0) is VoteResult.SAME
    assert storage.record_vote("a" * 12, 10, -1, now=102.0) is VoteResult.CHANGED
    assert storage.record_vote("a" * 12, 11, 1, now=103.0) is VoteResult.NEW
    assert storage.record_vote("f" * 12, 10, 1) is VoteResult.UNKNOWN_ANSWER
    assert storage.vote_totals("a" * 12) == (1, 1)
    rows = storage.feedback()
    assert [(r["user_id"], r["vote"], r["voted_at"]) for r in rows] == [(10, -1, 102.0), (11, 1, 103.0)]
    assert {(r["answer_id"], r["question"], r["answer"]) for r in rows} == {
        ("a" * 12, "¿Nivel de las presas?", "Están al 41 % [1].")
    }
    with pytest.raises(ValueError):
        storage.record_vote("a" * 12, 10, 0)


def test_thread_questions_oldest_first_and_bounded(tmp_path: Path) -> None:
    storage = Storage.beside(tmp_path)
    for n in range(5):
        save(storage, f"{n:012x}", thread_id=99, question=f"pregunta {n}", at=float(n))
    save(storage, "e" * 12, thread_id=98, question="otro hilo", at=10.0)
    assert storage.thread_questions(99, 3) == ["pregunta 2", "pregunta 3", "pregunta 4"]
    assert storage.is_conversation(99) and not storage.is_conversation(97)
    assert storage.answer_count() == 6


def test_channels_are_off_until_enabled(tmp_path: Path) -> None:
    storage = Storage.beside(tmp_path)
    assert not storage.channel_enabled(5)
    storage.set_channel(1, 5, True, changed_by=3)
    storage.set_channel(1, 6, True, changed_by=3)
    storage.set_channel(2, 8, True, changed_by=3)
    storage.set_channel(1, 6, False, changed_by=3)
    assert storage.channel_enabled(5) and not storage.channel_enabled(6)
    assert storage.enabled_channels(1) == [5]


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    storage = Storage.beside(tmp_path)
    save(storage, "a" * 12)
    threads = [threading.Thread(target=storage.record_vote, args=("a" * 12, user, 1)) for user in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert storage.vote_totals() == (50, 0)


def test_unusable_database_is_a_store_error(tmp_path: Path) -> None:
    from index import StoreError

    (tmp_path / "feedback.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        Storage.beside(tmp_path)


# -- limits ---------------------------------------------------------------------------------


def test_limits_from_environment() -> None:
    limits = BotLimits.from_env({"NEWSBOT_BOT_COOLDOWN": "2.5", "NEWSBOT_BOT_MAX_CONCURRENT": "7", "OTHER": "x"})
    assert limits == BotLimits(cooldown_seconds=2.5, max_concurrent_questions=7)
    with pytest.raises(ConfigError, match="NEWSBOT_BOT_MAX_CONCURRENT"):
        BotLimits.from_env({"NEWSBOT_BOT_MAX_CONCURRENT": "many"})
    with pytest.raises(ConfigError, match="NEWSBOT_BOT_TIMEOUT"):
        BotLimits.from_env({"NEWSBOT_BOT_TIMEOUT": "0"})


def test_fixed_choices_fit_discord_and_the_index() -> None:
    # The /sources buttons are disabled by editing its reply, which needs a live interaction token.
    assert limits_module.PAGER_TIMEOUT_SECONDS < limits_module.INTERACTION_TOKEN_SECONDS
    # /ingest takes exactly the files the index reads (as `newsbot ingest` does), none of its own.
    assert set(limits_module.INGEST_SUFFIXES) == SUPPORTED_SUFFIXES


def test_cooldown_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(limits_module.time, "monotonic", lambda: now[0])
    cooldown = Cooldown(10)
    assert cooldown.hit(1) == 0
    assert cooldown.hit(2) == 0  # another user is not held back
    now[0] += 4
    assert cooldown.hit(1) == pytest.approx(6)
    now[0] += 6
    assert cooldown.hit(1) == 0


async def test_slots_say_busy_instead_of_queueing() -> None:
    slots = QuestionSlots(2)
    release = asyncio.Event()

    async def held() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(slots.run(held, 10))
    second = asyncio.create_task(slots.run(held, 10))
    await asyncio.sleep(0)
    assert slots.busy
    with pytest.raises(Busy):
        await slots.run(held, 10)
    release.set()
    assert await asyncio.gather(first, second) == ["done", "done"]
    assert not slots.busy
    assert await slots.run(held, 10) == "done"


async def test_slow_question_does_not_stall_others_and_keeps_its_slot_until_done() -> None:
    slots = QuestionSlots(2)
    finished: list[str] = []

    def work(name: str, seconds: float) -> str:
        time.sleep(seconds)
        finished.append(name)
        return name

    slow = asyncio.create_task(slots.run(lambda: asyncio.to_thread(work, "slow", 0.6), 0.2))
    await asyncio.sleep(0.05)
    assert await slots.run(lambda: asyncio.to_thread(work, "fast", 0.01), 5) == "fast"
    assert finished == ["fast"]  # answered while the slow one still ran
    with pytest.raises(TimeoutError):
        await slow
    assert slots.in_use == 1  # the timed-out work still holds its slot...
    await asyncio.sleep(0.6)
    assert finished == ["fast", "slow"]
    assert slots.in_use == 0  # ...until its thread is done
