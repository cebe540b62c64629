"""Attribute tables: CelebA's ``list_attr_celeba.txt`` and a plain CSV for users' own data.

CelebA: first line the number of images, second the attribute names, then
``filename v1 ... vN`` with 1 / -1 separated by irregular runs of spaces. CSV:
``filename,attr1,attr2,...`` with 0 / 1. Both become {filename: {name: 0.0 or 1.0}} for the
attributes asked for, with every problem reported by line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from imagexform.plugin_api import DataError, display_path

Table = dict[str, dict[str, float]]


def read_table(path: Path, wanted: list[str]) -> Table:
    if path.suffix.lower() == ".csv":
        names, rows = _read_csv(path)
        values = {"0": 0.0, "1": 1.0}
        allowed = "0 or 1"
    else:
        names, rows = _read_celeba(path)
        values = {"1": 1.0, "-1": 0.0}
        allowed = "1 or -1"
    where = display_path(path)
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise DataError(
            f"{where}: no attribute {', '.join(unknown)}; available: {', '.join(names)}"
        )
    columns = [names.index(name) for name in wanted]
    table: Table = {}
    for line, filename, cells in rows:
        if len(cells) != len(names):
            raise DataError(
                f"{where}, line {line}: {len(cells)} values for {len(names)} attributes"
            )
        if filename in table:
            raise DataError(f"{where}, line {line}: {filename} is listed twice")
        entry = {}
        for name, column in zip(wanted, columns, strict=True):
            if cells[column] not in values:
                raise DataError(
                    f"{where}, line {line}: {name} of {filename} is {cells[column]!r}, "
                    f"not {allowed}"
                )
            entry[name] = values[cells[column]]
        table[filename] = entry
    if not table:
        raise DataError(f"{where}: lists no images")
    return table


def _read_celeba(path: Path) -> tuple[list[str], list[tuple[int, str, list[str]]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    where = display_path(path)
    if len(lines) < 2:
        raise DataError(f"{where}: expected a count line and a line of attribute names")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DataError(
            f"{where}, line 1: expected the number of images, got {lines[0]!r}"
        ) from None
    names = lines[1].split()
    rows = [(n, *_split(text)) for n, text in enumerate(lines[2:], start=3) if text.strip()]
    if count != len(rows):
        raise DataError(f"{where}, line 1: says {count} images but {len(rows)} are listed")
    return names, rows


def _split(text: str) -> tuple[str, list[str]]:
    filename, *cells = text.split()
    return filename, cells


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, str, list[str]]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    if not records or len(records[0]) < 2:
        raise DataError(f"{display_path(path)}: expected a header filename,attr1,attr2,...")
    names = [name.strip() for name in records[0][1:]]
    rows = [
        (n, record[0].strip(), [cell.strip() for cell in record[1:]])
        for n, record in enumerate(records[1:], start=2)
        if record
    ]
    return names, rows
