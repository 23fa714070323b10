"""How the commands print: JSON, plain fixed-width tables, and the values shortened for a table."""

from __future__ import annotations

import json

FILL_DECIMALS = 3  # a fill (params / budget) in a table; `solve` shows its own, rounded down, at 4


def print_json(value) -> None:
    print(json.dumps(value, indent=2, default=str))


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain fixed-width table (no dependency on pandas' wide-display settings)."""
    cells = [[_format(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)))


def with_short_fill(rows: list[dict]) -> list[dict]:
    """The rows with their ``fill`` rounded to ``FILL_DECIMALS`` (None where there is none)."""
    return [row | {"fill": None if row.get("fill") is None else round(row["fill"], FILL_DECIMALS)} for row in rows]


def with_init(columns: list[str], rows: list[dict]) -> list[str]:
    """``columns`` with ``init`` after ``substitute`` where the rows start in more than one way (a study's init axis)."""
    if len({row.get("init") for row in rows}) < 2:
        return columns
    at = columns.index("substitute") + 1
    return [*columns[:at], "init", *columns[at:]]


def print_kept_dense(kept: tuple) -> None:
    if kept:
        print("kept dense (selected, but no substitute fits): "
              + ", ".join(f"{k.name} ({k.reason})" for k in kept))


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").replace("e", "").replace("+", "").isdigit()
