"""An uploaded CSV → a dataset table, with the stdlib ``csv`` module: nothing is executed.

The file needs a header row of column names; one column is the target (the last by
default), the others are features. Every cell must be a finite number. Each problem is
refused with a message naming the line and the column, and a cell is never echoed longer
than ``SHOWN_CHARACTERS``.

The task is inferred unless given: 2 distinct integer targets → binary; 3 to
``MAX_INFERRED_CLASSES`` distinct integers → multiclass; anything else → regression. Class
labels are mapped to indices 0 … k−1 in sorted order; ``class_names`` keeps the labels as
they were written.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.engine import ConfigError
from app.engine.datasets import MIN_SAMPLES, Task

SHOWN_CHARACTERS = 40
MAX_INFERRED_CLASSES = 10
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class CsvLimits:
    """The settings an upload must fit (rows, columns, classes)."""

    max_rows: int
    max_columns: int
    max_classes: int


@dataclass
class ParsedCsv:
    """The table the store keeps, and what the upload's answer reports."""

    table: dict[str, Any]
    target: str
    rows: int


def shown(text: str) -> str:
    """A cell or name as a message may quote it: at most SHOWN_CHARACTERS characters."""
    if len(text) <= SHOWN_CHARACTERS:
        return repr(text)
    return repr(text[:SHOWN_CHARACTERS]) + "…"


def decode(raw: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); refused with the offset of a bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            "file", f"the file is not UTF-8 text (byte {error.start} cannot be decoded)"
        ) from None


def parse_csv(
    raw: bytes,
    limits: CsvLimits,
    name: str,
    target: str | None = None,
    task: Task | None = None,
) -> ParsedCsv:
    """Check and convert an uploaded CSV; ConfigError names the field and the problem."""
    header, rows, line_numbers = read_rows(decode(raw), limits)
    target_index = target_column(header, target)
    values = to_numbers(header, rows, line_numbers)
    features = np.delete(values, target_index, axis=1)
    targets = values[:, target_index]
    column = header[target_index]
    resolved_task, encoded, class_names = encode_targets(targets, column, task, limits)
    feature_names = [column for k, column in enumerate(header) if k != target_index]
    table = {
        "name": name,
        "features": features.tolist(),
        "targets": encoded.tolist(),
        "task": resolved_task,
        "feature_names": feature_names,
        "class_names": class_names,
    }
    return ParsedCsv(table, header[target_index], len(rows))


def read_rows(text: str, limits: CsvLimits) -> tuple[list[str], list[list[str]], list[int]]:
    """The header and the data rows (blank lines skipped), with each row's line number."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    try:
        for row in reader:
            if not row:
                continue  # a blank line
            if header is None:
                header = check_header(row, limits)
                continue
            if len(rows) >= limits.max_rows:
                raise ConfigError("file", f"more than {limits.max_rows} data rows")
            if len(row) != len(header):
                raise ConfigError(
                    "file",
                    f"line {reader.line_num} has {len(row)} cells; the header has "
                    f"{len(header)} columns",
                )
            rows.append(row)
            line_numbers.append(reader.line_num)
    except csv.Error as error:
        raise ConfigError("file", f"line {reader.line_num}: not valid CSV ({error})") from None
    if header is None:
        raise ConfigError("file", "the file is empty: it needs a header row and data rows")
    if len(rows) < MIN_SAMPLES:
        raise ConfigError("file", f"at least {MIN_SAMPLES} data rows are needed, got {len(rows)}")
    return header, rows, line_numbers


def check_header(row: list[str], limits: CsvLimits) -> list[str]:
    names = [cell.strip() for cell in row]
    if len(names) > limits.max_columns:
        raise ConfigError("file", f"at most {limits.max_columns} columns, got {len(names)}")
    if len(names) < 2:
        hint = " (is it separated by commas?)" if any(c in row[0] for c in ";\t|") else ""
        raise ConfigError(
            "file", f"at least 2 columns are needed: one or more features and a target{hint}"
        )
    if all(is_number(name) for name in names):
        raise ConfigError(
            "file", "the first row must be a header of column names, but it holds only numbers"
        )
    seen: set[str] = set()
    for k, name in enumerate(names):
        if not name:
            raise ConfigError("file", f"column {k + 1} of the header has no name")
        if len(name) > MAX_NAME_LENGTH:
            raise ConfigError(
                "file", f"column {k + 1}'s name is longer than {MAX_NAME_LENGTH} characters"
            )
        if name in seen:
            raise ConfigError("file", f"the header names column {shown(name)} twice")
        seen.add(name)
    return names


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def target_column(header: list[str], target: str | None) -> int:
    if target is None:
        return len(header) - 1
    if target.strip() in header:
        return header.index(target.strip())
    columns = ", ".join(shown(name) for name in header[:10])
    more = f" and {len(header) - 10} more" if len(header) > 10 else ""
    raise ConfigError("target", f"no column {shown(target)}; the columns are {columns}{more}")


def to_numbers(header: list[str], rows: list[list[str]], line_numbers: list[int]) -> np.ndarray:
    """Every cell as a finite float64, (rows, columns); the first bad cell is named."""
    values = np.empty((len(rows), len(header)), dtype=np.float64)
    for r, (row, line) in enumerate(zip(rows, line_numbers, strict=True)):
        for c, cell in enumerate(row):
            text = cell.strip()
            where = f"line {line}, column {shown(header[c])}"
            if not text:
                raise ConfigError("file", f"{where} is empty: missing values are not allowed")
            try:
                number = float(text)
            except ValueError:
                raise ConfigError("file", f"{where}: {shown(text)} is not a number") from None
            if not math.isfinite(number):
                raise ConfigError("file", f"{where}: {shown(text)} is not a finite number")
            values[r, c] = number
    return values


def label(value: float) -> str:
    """A class label as it reads: 3.0 → '3', 0.5 → '0.5'."""
    return str(int(value)) if value == int(value) else repr(value)


def encode_targets(
    targets: np.ndarray, column: str, task: Task | None, limits: CsvLimits
) -> tuple[Task, np.ndarray, list[str] | None]:
    """The task, the targets as the engine takes them (class indices or values), class names."""
    classes = np.unique(targets)
    integers = bool(np.all(targets == np.round(targets)))
    if task is None:
        if integers and len(classes) == 2:
            task = "binary"
        elif integers and 3 <= len(classes) <= MAX_INFERRED_CLASSES:
            task = "multiclass"
        else:
            task = "regression"
    if task == "regression":
        return task, targets, None
    if task == "binary" and len(classes) != 2:
        raise ConfigError(
            "task",
            f"binary needs exactly 2 distinct values in the target column {shown(column)}, "
            f"it has {len(classes)}",
        )
    if task == "multiclass" and not 2 <= len(classes) <= limits.max_classes:
        raise ConfigError(
            "task",
            f"multiclass needs 2 to {limits.max_classes} distinct values in the target column "
            f"{shown(column)}, it has {len(classes)}",
        )
    indices = np.searchsorted(classes, targets).astype(np.float64)
    return task, indices, [label(float(value)) for value in classes]
