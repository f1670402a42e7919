"""The workshop driven from a test: run in this process with scripted keys, its transcript read as
words, its containers found by their labels, a participant's answer written.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from rich.console import Console

from reality.config import LABEL_PID, LABEL_ROLE
from reality.workshop import Workshop
from reality.workshop.exercise import Exercise


def run_workshop(exercise_dir: Path, keys: str = "", interactive: bool = True, **options) -> tuple[int, str]:
    """Run the workshop in this process with scripted input; returns (exit code, transcript)."""
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    code = Workshop(console, io.StringIO(keys), interactive=interactive, exercise_dir=exercise_dir, **options).run()
    return code, out.getvalue()


def words(transcript: str) -> str:
    """The transcript's words in one line: where a panel wrapped a sentence, its borders are not words."""
    return " ".join(transcript.replace("│", " ").split())


def workshop_containers(docker_client, pid: int | None = None) -> list:
    labels = [f"{LABEL_PID}={pid or os.getpid()}", f"{LABEL_ROLE}=workshop"]
    return docker_client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)


#: A participant's own answer (not the workshop's solution): it proves the constraint.
PARTICIPANT_ANSWER = (
    "import psycopg2.errors\n"
    "import pytest\n\n\n"
    "def test_two_products_cannot_share_a_sku(db):\n"
    "    insert = 'INSERT INTO products (sku, name, price_cents) VALUES (%s, %s, %s)'\n"
    "    db.cursor().execute(insert, ('MUG-001', 'Mug', 1200))\n"
    "    with pytest.raises(psycopg2.errors.UniqueViolation):\n"
    "        db.cursor().execute(insert, ('MUG-001', 'Other mug', 900))\n")


def write_answer(exercise: Path, text: str = PARTICIPANT_ANSWER) -> None:
    Exercise(exercise).create()
    (exercise / "test_product_sku.py").write_text(text)


def render(renderable, width: int = 120) -> str:
    """What ``renderable`` prints at ``width`` columns, as words in one line (panel borders are not words)."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return " ".join(out.getvalue().replace("│", " ").split())
