"""Recorded values: what a checked cell records, how records compare, and the nbval plugin on a small notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from intertask.values import VALUES_MIME, compare_values, to_value, values_in

CHECK = {"tags": ["nbval-check-output"]}


def test_tables_become_rows_with_plain_numbers():
    frame = pd.DataFrame({"language": ["en", "de"], "value": [np.float64(0.375), np.nan], "n": np.array([32, 16])})
    rows = to_value(frame)
    assert rows == [{"language": "en", "value": 0.375, "n": 32}, {"language": "de", "value": None, "n": 16}]
    assert type(rows[0]["n"]) is int and type(rows[0]["value"]) is float
    # a named index (a condition, a language) is kept as a column, not lost
    assert to_value(frame.set_index("language"))[1]["language"] == "de"


def test_an_unrecordable_value_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="Path.*str"):
        to_value({"where": Path("/tmp")})


def test_floats_compare_within_the_tolerance_and_counts_exactly():
    rec = {"results": [{"language": "de", "metric": "accuracy", "value": 0.34375, "n_examples": 32}]}
    same = {"results": [{"language": "de", "metric": "accuracy", "value": 0.34375 + 4e-7, "n_examples": 32}]}
    assert compare_values(rec, same) == []
    moved = {"results": [{"language": "de", "metric": "accuracy", "value": 0.375, "n_examples": 31}]}
    problems = [str(m) for m in compare_values(rec, moved)]
    assert problems == [
        "results[0 de accuracy].value: expected 0.34375, got 0.375 (differs by 0.0312 > abs tolerance 1e-06)",
        "results[0 de accuracy].n_examples: expected 32, got 31 (must match exactly)"]


def test_missing_extra_and_reshaped_values_are_reported():
    rec = {"a": 1, "rows": [1, 2], "name": "xnli"}
    got = {"rows": [1, 2, 3], "name": "pawsx", "b": 2}
    problems = {m.name: m.why for m in compare_values(rec, got)}
    assert problems == {"a": "missing from the new run", "rows": "different length", "name": "must match exactly",
                        "b": "not in the record"}
    assert [m.why for m in compare_values({"x": True}, {"x": 1})] == ["bool became int"]


def _notebook(path: Path, table_print: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import pandas as pd\nfrom intertask.values import record_values\n"
                                  "scores = pd.DataFrame({'language': ['en', 'de'], 'value': [0.5, 1 / 3], 'n': [4, 3]})"),
        nbformat.v4.new_code_cell(f"record_values(scores=scores)\nprint({table_print})", metadata=CHECK),
    ]
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, str(path))
    return path


def _nbval(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "intertask.nbval_values",
           "--nbval-lax", *map(str, paths)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=dict(os.environ))


def test_nbval_checks_values_not_formatting(tmp_path):
    record = _notebook(tmp_path / "record.ipynb", "scores.round(3).to_string(index=False)")
    nb = nbformat.read(str(record), as_version=4)
    assert values_in(nb.cells[1].outputs)["scores"][1] == {"language": "de", "value": 1 / 3, "n": 3}

    reformatted = nbformat.read(str(record), as_version=4)  # the printed table as an older layout printed it
    stream = next(o for o in reformatted.cells[1].outputs if o.output_type == "stream")
    stream.text = stream.text.replace("0.333", "0.33").replace("  ", " ")
    nbformat.write(reformatted, str(tmp_path / "reformatted.ipynb"))

    changed = nbformat.read(str(record), as_version=4)
    out = next(o for o in changed.cells[1].outputs if VALUES_MIME in o.get("data", {}))
    out.data[VALUES_MIME]["scores"][1]["value"] = 0.25
    nbformat.write(changed, str(tmp_path / "changed.ipynb"))

    result = _nbval([record, tmp_path / "reformatted.ipynb", tmp_path / "changed.ipynb"], tmp_path)
    assert "2 failed" not in result.stdout and "1 failed" in result.stdout, result.stdout[-3000:]
    assert "FAILED changed.ipynb::Cell 1" in result.stdout
    assert ("changed.ipynb: cell 1: recorded value scores[1 de].value: expected 0.25, got 0.3333333333333333"
            in result.stdout), result.stdout[-3000:]
