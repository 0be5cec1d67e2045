"""Re-execute a recorded notebook with its recorded parameters and check its checked outputs still hold.

Checked outputs are the cells tagged `nbval-check-output` (the same cells nbval compares). A checked
cell that records values (`intertask.values.record_values`) is checked by those values, within the
tolerance of `intertask.values`, as the nbval plugin `intertask.nbval_values` does. Other checked
cells compare their text after sanitizing paths, timings and memory addresses, with the same
patterns as `nbval_sanitize.cfg`.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pandas as pd

from .integrity import sha256_file
from .kernels import TiedKernelManager
from .run import notebooks_dir
from .study import NOTEBOOKS
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


class VerifyError(ValueError):
    """The path cannot be verified at all (not a notebook, not a record); the message says what to pass."""


def template_for(path: Path, nb) -> Path:
    """The package's own template that produced a record: by the stage kind in its folder's params.json,
    else by name; never the record itself, whose code may have been edited after the run."""
    templates = notebooks_dir()
    record = _json(path.parent / "params.json")
    candidates = [NOTEBOOKS.get(str(record.get("stage")), ""), path.name,
                  Path(str(nb.metadata.get("papermill", {}).get("input_path", ""))).name]
    for name in candidates:
        if name and (templates / name).exists():
            return templates / name
    raise VerifyError(f"{path}: cannot tell which stage notebook produced it (no params.json beside it and no "
                      f"template of that name in {templates}); pass an executed stage record")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _compare_cells(expected: dict, actual: dict, name: str) -> tuple[bool, list[str]]:
    lines, ok = [], True
    for cell_id, recorded in expected.items():
        now = actual.get(cell_id)
        if isinstance(recorded, dict):
            problems = compare_values(recorded, now if isinstance(now, dict) else {})
            same = not problems
            details = [f"  {name}: recorded value {m}" for m in problems]
        else:
            same = now == recorded
            details = ["  recorded:\n    " + recorded.replace("\n", "\n    "),
                       "  now:\n    " + str(now).replace("\n", "\n    ")]
        ok &= same
        lines.append(f"{'OK  ' if same else 'DIFF'} cell {cell_id}")
        if not same:
            lines += details
    missing = [c for c in actual if c not in expected]
    if missing:  # a checked cell removed from the record cannot hide a difference
        ok = False
        lines.append(f"DIFF cells {missing} are checked in the template but absent from the record")
    return ok, lines


def _check_recorded_files(folder: Path, fresh: Path) -> tuple[bool, list[str]]:
    """The stage's results.csv against its recorded sha256 and against the fresh re-execution."""
    results = folder / "results.csv"
    if not results.exists():
        return True, []
    ok, lines = True, []
    entry = _json(folder / "status.json").get("outputs", {}).get("results.csv")
    if entry is None:
        lines.append("NOTE results.csv has no recorded hash (recorded by an older version)")
    elif sha256_file(results) != entry["sha256"]:
        ok = False
        lines.append("DIFF results.csv: sha256 differs from the one recorded when the stage finished")
    else:
        lines.append("OK   results.csv matches its recorded sha256")
    if (fresh / "results.csv").exists():
        a, b = pd.read_csv(results), pd.read_csv(fresh / "results.csv")
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
            lines.append("OK   results.csv matches the re-execution")
        except AssertionError as e:
            ok = False
            lines.append(f"DIFF results.csv differs from the re-execution: {str(e).splitlines()[0]}")
    return ok, lines


def verify_notebook(path: Path) -> tuple[bool, list[str]]:
    """Re-execute the package's template of a record with the recorded parameters and compare."""
    import nbformat
    import papermill as pm

    path = Path(path)
    if not path.exists():
        return False, [f"{path}: no such notebook"]
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:  # nbformat raises JSON, validation and decoding errors alike
        raise VerifyError(f"{path} is not a Jupyter notebook ({type(e).__name__}); pass a stage record such as "
                          f"outputs/<study>/stages/3-evaluate-*/03_evaluate.ipynb") from None
    recorded = nb.metadata.get("papermill", {}).get("parameters")
    if recorded is None:
        raise VerifyError(f"{path}: not a papermill record (no recorded parameters); pass an executed stage record")
    expected = checked_outputs(nb)
    template = template_for(path, nb)
    lines, ok = [f"template: {template}"], True
    runner_params = _json(path.parent / "params.json").get("parameters")
    if runner_params is not None and runner_params != recorded:
        ok = False  # the record's parameters were edited: re-run with the runner's, and say so
        lines.append("DIFF the notebook's recorded parameters differ from params.json; using params.json's")
        recorded = runner_params
    with tempfile.TemporaryDirectory(prefix="intertask-verify-") as tmp:
        params = dict(recorded)
        if "output_dir" in params:
            params["output_dir"] = tmp  # never overwrite the record's own outputs
        out = Path(tmp) / path.name
        try:
            pm.execute_notebook(str(template), str(out), parameters=params, cwd=str(path.parent), progress_bar=False,
                                kernel_manager_class=TiedKernelManager)
        except Exception as e:
            return False, lines + [f"{path}: re-execution failed: {getattr(e, 'ename', type(e).__name__)}: "
                                   f"{getattr(e, 'evalue', e)}"]
        actual = checked_outputs(nbformat.read(str(out), as_version=4))
        if not actual:
            raise VerifyError(f"{template} has no cells tagged {CHECK_TAG!r}: nothing to compare")
        same, cell_lines = _compare_cells(expected, actual, path.name)
        files_ok, file_lines = _check_recorded_files(path.parent, Path(tmp))
    ok = ok and same and files_ok
    lines += cell_lines + file_lines
    lines.append(f"{path}: {'outputs reproduced' if ok else 'outputs differ'}")
    return ok, lines
