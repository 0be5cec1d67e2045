"""Re-execute a recorded notebook with its recorded parameters and check its checked outputs still hold.

Checked outputs are the cells tagged `nbval-check-output` (the same cells nbval compares). A checked
cell that records values (`intertask.values.record_values`) is checked by those values, within the
tolerance of `intertask.values`, as the nbval plugin `intertask.nbval_values` does. Other checked
cells compare their text after sanitizing paths, timings and memory addresses, with the same
patterns as `nbval_sanitize.cfg`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from .values import Value, compare_values, values_in

CHECK_TAG = "nbval-check-output"
# (pattern, replacement): kept in step with nbval_sanitize.cfg by a test
SANITIZE: list[tuple[str, str]] = [
    (r"""/[^\s'"]*/""", "PATH/"),
    (r"\d+(\.\d+)?\s?(s|seconds|sec)\b", "T s"),
    (r"0x[0-9a-f]+", "0xADDR"),
]


def sanitize(text: str) -> str:
    for pattern, repl in SANITIZE:
        text = re.sub(pattern, repl, text)
    return text


def checked_outputs(nb) -> dict[str, str | dict[str, Value]]:
    """What every checked cell is checked by, keyed by cell id: its recorded values, else its sanitized text."""
    out = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or CHECK_TAG not in cell.metadata.get("tags", []):
            continue
        values = values_in(cell.get("outputs", []))
        if values is not None:
            out[cell.get("id", str(i))] = values
            continue
        texts = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                texts.append(o.get("text", ""))
            elif "data" in o:
                texts.append(o["data"].get("text/plain", ""))
        out[cell.get("id", str(i))] = sanitize("".join(texts))
    return out


def verify_notebook(path: Path) -> tuple[bool, list[str]]:
    import nbformat
    import papermill as pm

    path = Path(path)
    if not path.exists():
        return False, [f"{path}: no such notebook"]
    nb = nbformat.read(str(path), as_version=4)
    recorded = nb.metadata.get("papermill", {}).get("parameters")
    if recorded is None:
        return False, [f"{path}: not a papermill record (no recorded parameters)"]
    expected = checked_outputs(nb)
    if not expected:
        return False, [f"{path}: has no cells tagged {CHECK_TAG!r} to check"]
    with tempfile.TemporaryDirectory(prefix="intertask-verify-") as tmp:
        params = dict(recorded)
        if "output_dir" in params:
            params["output_dir"] = tmp  # never overwrite the record's own outputs
        out = Path(tmp) / path.name
        try:
            pm.execute_notebook(str(path), str(out), parameters=params, cwd=str(path.parent), progress_bar=False)
        except Exception as e:
            return False, [f"{path}: re-execution failed: {getattr(e, 'ename', type(e).__name__)}: "
                           f"{getattr(e, 'evalue', e)}"]
        actual = checked_outputs(nbformat.read(str(out), as_version=4))
    lines, ok = [], True
    for cell_id, recorded in expected.items():
        now = actual.get(cell_id)
        if isinstance(recorded, dict):
            problems = compare_values(recorded, now if isinstance(now, dict) else {})
            same = not problems
            details = [f"  {path.name}: recorded value {m}" for m in problems]
        else:
            same = now == recorded
            details = ["  recorded:\n    " + recorded.replace("\n", "\n    "),
                       "  now:\n    " + str(now).replace("\n", "\n    ")]
        ok &= same
        lines.append(f"{'OK  ' if same else 'DIFF'} cell {cell_id}")
        if not same:
            lines += details
    lines.append(f"{path}: {'outputs reproduced' if ok else 'outputs differ'}")
    return ok, lines
