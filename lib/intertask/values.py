"""Named values a notebook records for checking, and their comparison with a stated tolerance.

A checked cell calls `record_values(name=value, ...)`. The values travel as one display output with
the MIME type `VALUES_MIME` (scrapbook style: JSON in the notebook, no extra file), so a record is
checked against what it computed, not against how a table was printed. Floats compare within
`FLOAT_ABS_TOL`; counts, ids, labels and metric names compare exactly. Paths and timings are not
recorded as values (leave them out of what you pass).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from IPython.display import display

VALUES_MIME = "application/vnd.intertask.values+json"
# metrics are means over a few hundred items at most: 1e-6 is far below one item's weight, far above float noise
FLOAT_ABS_TOL = 1e-6

Value = Any  # JSON-like: None, bool, int, float, str, list, dict


def to_value(obj: Any) -> Value:
    """A JSON-like copy of obj: tables become lists of row dicts, numpy scalars plain numbers, NaN None."""
    if hasattr(obj, "to_dict") and hasattr(obj, "columns"):  # a pandas DataFrame
        table = obj if _plain_index(obj) else obj.reset_index()
        return [to_value(row) for row in table.to_dict(orient="records")]
    if hasattr(obj, "to_dict") and hasattr(obj, "index"):  # a pandas Series
        return to_value(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_value(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, (str, bytes)):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None  # JSON has no NaN; a missing value stays comparable as None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"record_values: {type(obj).__name__} value {obj!r} is not a number, string, list, dict or "
                    "table; pass plain values (e.g. str(x) for an id)")


def _plain_index(frame) -> bool:
    index = frame.index
    return list(index.names) == [None] and list(index) == list(range(len(index)))


def record_values(**values: Any) -> dict[str, Value]:
    """Show the values as this cell's checked output; returns them as recorded (JSON-like)."""
    recorded = {name: to_value(v) for name, v in values.items()}
    summary = "recorded values: " + ", ".join(recorded)
    display({VALUES_MIME: recorded, "text/plain": summary}, raw=True)
    return recorded


def values_in(outputs: list) -> dict[str, Value] | None:
    """The values recorded in a cell's outputs (merged, later wins), or None when it records none."""
    found = None
    for out in outputs:
        data = out.get("data", {}) if hasattr(out, "get") else {}
        if VALUES_MIME in data:
            payload = data[VALUES_MIME]
            found = {**(found or {}), **(json.loads(payload) if isinstance(payload, str) else payload)}
    return found


@dataclass
class Mismatch:
    name: str  # e.g. results[1 de accuracy].value
    expected: Value
    got: Value
    why: str

    def __str__(self) -> str:
        return f"{self.name}: expected {self.expected!r}, got {self.got!r} ({self.why})"


def compare_values(expected: dict[str, Value], got: dict[str, Value], abs_tol: float = FLOAT_ABS_TOL) -> list[Mismatch]:
    """Every difference between recorded and recomputed values; floats within abs_tol count as equal."""
    return _compare("", expected, got, abs_tol)


def _compare(name: str, expected: Value, got: Value, tol: float) -> list[Mismatch]:
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in expected:
            sub = f"{name}.{key}" if name else key
            if key not in got:
                out.append(Mismatch(sub, expected[key], None, "missing from the new run"))
            else:
                out += _compare(sub, expected[key], got[key], tol)
        out += [Mismatch(f"{name}.{k}" if name else k, None, got[k], "not in the record")
                for k in got if k not in expected]
        return out
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [Mismatch(name, f"{len(expected)} items", f"{len(got)} items", "different length")]
        out = []
        for i, (e, g) in enumerate(zip(expected, got)):
            out += _compare(f"{name}[{_row_label(i, e)}]", e, g, tol)
        return out
    if _is_number(expected) and _is_number(got) and (isinstance(expected, float) or isinstance(got, float)):
        if abs(expected - got) <= tol:
            return []
        return [Mismatch(name, expected, got, f"differs by {abs(expected - got):.3g} > abs tolerance {tol:g}")]
    if type(expected) is not type(got) and not (_is_number(expected) and _is_number(got)):
        return [Mismatch(name, expected, got, f"{type(expected).__name__} became {type(got).__name__}")]
    return [] if expected == got else [Mismatch(name, expected, got, "must match exactly")]


def _is_number(v: Value) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _row_label(i: int, row: Value) -> str:
    """Position plus the row's text fields (language, metric, ...), so a message says which row."""
    if isinstance(row, dict):
        words = [v for v in row.values() if isinstance(v, str)]
        if words:
            return f"{i} " + " ".join(words)
    return str(i)
