"""The committed records of the tiny study (outputs/tiny) still reproduce: nbval re-executes them.

They are copied to a temporary folder first, so re-execution never rewrites the committed files,
and executed in stage order (intermediate, target, evaluate) so each finds its parent checkpoint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "outputs" / "tiny" / "stages"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def nbval(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
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


def test_a_changed_result_is_caught(records):
    ev = sorted(records.glob("3-evaluate-*/03_evaluate.ipynb"))[0]
    if not any(records.glob("2-target-*/checkpoint")):
        pytest.skip("needs the checkpoints re-created by test_committed_records_reproduce")
    nb = nbformat.read(str(ev), as_version=4)
    cell = next(c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", []))
    text = cell.outputs[0]["text"]
    cell.outputs[0]["text"] = text.replace("0.", "0.9", 1)
    nbformat.write(nb, str(ev))
    result = nbval([ev], records)
    assert result.returncode != 0
