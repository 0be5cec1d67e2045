"""The committed records of the tiny study (outputs/tiny) still reproduce: nbval re-executes them.

Checked cells record named values (`intertask.values.record_values`); the plugin
`intertask.nbval_values` compares those with the recomputed ones (floats within abs 1e-6, counts,
ids and names exactly), so how a table is printed may change and a changed value never passes.
They are copied to a temporary folder first, so re-execution never rewrites the committed files,
and executed in stage order (intermediate, target, evaluate) so each finds its parent checkpoint.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from intertask.values import VALUES_MIME

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "outputs" / "tiny" / "stages"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def nbval(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "intertask.nbval_values", "--nbval-lax",
           "--nbval-sanitize-with", str(SANITIZE), *map(str, paths)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=dict(os.environ))


@pytest.fixture(scope="module")
def records(tmp_path_factory, data_dir) -> Path:
    if not RECORDS.exists():
        pytest.fail(f"{RECORDS} is missing: run `intertask run params/tiny.yaml` and commit outputs/tiny")
    copy = tmp_path_factory.mktemp("records") / "stages"
    shutil.copytree(RECORDS, copy, ignore=shutil.ignore_patterns("checkpoint", "checkpoint.tmp"))
    return copy


def test_committed_records_reproduce(records):
    notebooks = sorted(records.glob("*/*.ipynb"))
    assert len(notebooks) == 5  # 1 intermediate, 2 target, 2 evaluate
    result = nbval(notebooks, records)
    assert result.returncode == 0, result.stdout[-4000:]


def test_a_changed_value_is_caught_and_a_changed_format_is_not(records):
    ev = sorted(records.glob("3-evaluate-*/03_evaluate.ipynb"))[0]
    if not any(records.glob("2-target-*/checkpoint")):
        pytest.skip("needs the checkpoints re-created by test_committed_records_reproduce")
    nb = nbformat.read(str(ev), as_version=4)
    cell = next(c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", []))
    printed = next(o for o in cell.outputs if o.output_type == "stream")
    printed.text = re.sub(r" +", "\t", printed.text)  # another layout of the same table
    nbformat.write(nb, str(ev.with_name("reformatted.ipynb")))
    values = next(o for o in cell.outputs if VALUES_MIME in o.get("data", {})).data[VALUES_MIME]
    now = values["results"][1]["value"]
    values["results"][1]["value"] = round(now + 0.25, 6)
    nbformat.write(nb, str(ev.with_name("changed.ipynb")))
    result = nbval([ev.with_name("reformatted.ipynb"), ev.with_name("changed.ipynb")], records)
    assert "1 failed" in result.stdout and "FAILED " in result.stdout, result.stdout[-4000:]
    assert "reformatted.ipynb::" not in result.stdout.split("short test summary")[-1], result.stdout[-4000:]
    # the row is named by its text fields (language, metric, split label), the value by its column
    expected = (r"recorded value results\[1 de accuracy[^\]]*\]\.value: "
                + re.escape(f"expected {round(now + 0.25, 6)!r}, got {now!r}"))
    assert re.search(r"changed\.ipynb: cell \d+: " + expected, result.stdout), result.stdout[-4000:]
