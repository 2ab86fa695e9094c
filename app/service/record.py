"""The lesson's record: what each student of a class did on a session, for the teacher.

Per student (a name, compared as answers compare them: ``questions.name_key``): the class
questions answered and right in each round (from the session's ``QuestionBook``: right once a
question is revealed), the hand checks done and right, and the grades asked and passed. The
hand checks and grades are the study tools' calls that name a student (``name``): a page
following a class sends the name its student answers under. Kept with the session (stored
with it, so it outlives a restart), at most ``max_names`` students; exported as a table, or as
CSV with ``questions.safe_cell`` against formula injection.
"""

from __future__ import annotations

import csv
import io
import threading
from typing import Any, Literal

from .questions import QuestionBook, name_key, safe_cell

Tool = Literal["check", "grade"]


class StudyRecord:
    """Each named student's hand checks and grades on a session: done, and right (passed)."""

    def __init__(self, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self._entries: dict[str, dict[str, Any]] = entries or {}  # name_key → counts
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def note(self, name: str, tool: Tool, right: bool, max_names: int) -> bool:
        """One hand check (``right``: within its tolerance) or grade (every layer passed);
        False, and nothing noted, for a new name once ``max_names`` students are."""
        key = name_key(name)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if len(self._entries) >= max_names:
                    return False
                entry = self._entries[key] = {
                    "name": name, "checks": 0, "checks_right": 0, "grades": 0, "grades_passed": 0
                }  # fmt: skip
            if tool == "check":
                entry["checks"] += 1
                entry["checks_right"] += bool(right)
            else:
                entry["grades"] += 1
                entry["grades_passed"] += bool(right)
            return True

    def export(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {key: dict(entry) for key, entry in self._entries.items()}

    @classmethod
    def from_export(cls, stored: Any) -> StudyRecord:
        """The record a stored session carried (an older export has none)."""
        if not isinstance(stored, dict):
            return cls()
        try:
            return cls({str(key): _counts(entry) for key, entry in stored.items()})
        except (TypeError, ValueError, KeyError):
            return cls()  # a damaged record never costs the session


def _counts(entry: Any) -> dict[str, Any]:
    fields = ("checks", "checks_right", "grades", "grades_passed")
    return {"name": str(entry["name"]), **{field: int(entry[field]) for field in fields}}


def lesson_record(book: QuestionBook, record: StudyRecord) -> dict[str, Any]:
    """Per student: the questions answered and right in each round, the hand checks and the
    grades; ``rounds``: the most rounds any question had. Students in the order they first
    appear (answering, then checking or grading)."""
    questions = book.all()
    rounds = max((q.round for q in questions), default=1)
    students: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        key = name_key(name)
        if key not in students:
            students[key] = {
                "name": name,
                "answered": [0] * rounds,
                "right": [0] * rounds,
                "checks": 0,
                "checks_right": 0,
                "grades": 0,
                "grades_passed": 0,
            }
        return students[key]

    for q in questions:
        for a in sorted(q.answers, key=lambda a: a.get("round", 1)):
            entry = row(a["name"])
            number = a.get("round", 1) - 1
            entry["answered"][number] += 1
            if q.status == "revealed":
                entry["right"][number] += q.is_right(a["answer"])
    for counts in record.export().values():
        entry = row(counts["name"])
        for field in ("checks", "checks_right", "grades", "grades_passed"):
            entry[field] = counts[field]
    return {
        "rounds": rounds,
        "questions": len(questions),
        "revealed": sum(q.status == "revealed" for q in questions),
        "students": list(students.values()),
    }


def record_csv(table: dict[str, Any]) -> str:
    """The lesson's record as CSV: one row per student."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rounds = range(1, table["rounds"] + 1)
    writer.writerow(
        ["name"]
        + [f"{what}_round_{n}" for n in rounds for what in ("answered", "right")]
        + ["checks", "checks_right", "grades", "grades_passed"]
    )
    for student in table["students"]:
        writer.writerow(
            [safe_cell(student["name"])]
            + [student[what][n - 1] for n in rounds for what in ("answered", "right")]
            + [student[field] for field in ("checks", "checks_right", "grades", "grades_passed")]
        )
    return out.getvalue()
