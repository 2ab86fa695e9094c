"""Numbers of their own: each student of a class gets a seed, so that their worksheet, the
batch they check by hand and the batch they grade are theirs, not their neighbour's.

**The seed** of a student is the first four bytes of ``sha256("{session id}:{name_key(name)}")``
as an unsigned integer (0 … 2³² − 1, a worksheet seed's range). A session's id is stored
with it and is no secret (it is in every link), so the same lesson and the same name give the
same seed after a reload and after a server restart; names compare as answers do
(``questions.name_key``: "Ana", "ana" and "Аna" with a Cyrillic А are one student, one
seed). An explicit seed always wins. Anyone may work out another student's seed: a seed
keeps honest students from copying numbers, it is no lock.

**The sheets**: one worksheet per student of the class's lesson (``handcheck.worksheet`` with
each student's seed), for the teacher to print. No FastAPI import here.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from app.engine import ConfigError

from .questions import clean_name, name_key
from .record import lesson_record

if TYPE_CHECKING:
    from .session import Session

SEED_BYTES = 4  # seeds 0 … 2³² − 1, as a worksheet's seed


def student_seed(session_id: str, name: str) -> int:
    """The seed of student ``name`` (a cleaned name) on the lesson of session ``session_id``."""
    digest = hashlib.sha256(f"{session_id}:{name_key(name)}".encode()).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def student_name(student: Any, max_length: int, field: str = "student") -> str:
    """A student's name as a class answer's (``questions.clean_name``), refused naming
    ``field``."""
    try:
        return clean_name(student, max_length)
    except ConfigError as error:
        raise ConfigError(field, error.message) from None


def chosen_seed(
    session_id: str, student: str | None, seed: int | None, max_name_length: int
) -> int | None:
    """The seed a study call runs with: ``seed`` if given, else the student's own, else None
    (the session's current batch, or its own seed for a worksheet); a bad ``student`` is
    refused either way."""
    name = None if student is None else student_name(student, max_name_length)
    if seed is not None or name is None:
        return seed
    return student_seed(session_id, name)


def class_names(session: Session, names: list[str], max_length: int, max_sheets: int) -> list[str]:
    """The students to print sheets for: ``names`` (cleaned, one per student as name_key
    compares them, the first spelling kept), or when none are given every student of the
    lesson's record (who answered a question, checked or graded); at most ``max_sheets``."""
    if not names:
        table = lesson_record(session.questions, session.record)
        names = [student["name"] for student in table["students"]]
        if not names:
            raise ConfigError("name", "no student has answered in this lesson yet: give names")
    if len(names) > max_sheets:
        raise ConfigError(
            "name",
            f"at most {max_sheets} sheets in one file (max_worksheets_per_file), got "
            f"{len(names)}: ask for them in parts, name=… for each student",
        )
    kept: dict[str, str] = {}
    for given in names:
        name = student_name(given, max_length, "name")
        kept.setdefault(name_key(name), name)
    return list(kept.values())


def class_worksheets(
    session: Session, names: list[str], rows: int, max_units: int
) -> list[dict[str, Any]]:
    """Each student's worksheet (``names``: cleaned, see ``class_names``), with their name."""
    return [
        {**session.worksheet(student_seed(session.id, name), rows, max_units), "student": name}
        for name in names
    ]
