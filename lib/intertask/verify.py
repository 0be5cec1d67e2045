"""Re-execute a recorded notebook with its recorded parameters and check its checked outputs still hold.

Checked outputs are the cells tagged `nbval-check-output` (the same cells nbval compares). Paths,
timings and memory addresses are sanitized first, with the same patterns as `nbval_sanitize.cfg`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

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


def checked_outputs(nb) -> dict[str, str]:
    """Sanitized text of every checked cell, keyed by cell id."""
    out = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or CHECK_TAG not in cell.metadata.get("tags", []):
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
    for cell_id, text in expected.items():
        same = actual.get(cell_id) == text
        ok &= same
        lines.append(f"{'OK  ' if same else 'DIFF'} cell {cell_id}")
        if not same:
            lines.append("  recorded:\n    " + text.replace("\n", "\n    "))
            lines.append("  now:\n    " + str(actual.get(cell_id)).replace("\n", "\n    "))
    lines.append(f"{path}: {'outputs reproduced' if ok else 'outputs differ'}")
    return ok, lines
