"""JupyterLab set-up: `make lab`, notebooks Lab does not rewrite on open, a fast data fallback, and
kernels that start over ipc (no TCP warning)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intertask.data import MissingDataError
from intertask.notebook_meta import differences, language_info, normalise
from intertask.stages import open_data

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_hold_the_metadata_lab_writes(notebook):
    assert not differences(notebook), f"run: python -m intertask.notebook_meta {notebook.relative_to(ROOT)}"


def test_the_normaliser_fixes_a_drifted_notebook(tmp_path):
    nb = json.loads(NOTEBOOKS[0].read_text())
    nb["metadata"]["language_info"] = {"name": "python"}
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3"
    del nb["cells"][1]["id"]
    path = tmp_path / "drifted.ipynb"
    path.write_text(json.dumps(nb))
    found = differences(path)
    assert len(found) == 3 and found[-1] == "cells without ids"
    assert normalise(path) and not differences(path) and not normalise(path)
    fixed = json.loads(path.read_text())
    assert fixed["metadata"]["language_info"] == language_info()
    assert [c["source"] for c in fixed["cells"]] == [c["source"] for c in nb["cells"]]  # contents unchanged


def test_make_lab_installs_the_extra_and_sets_the_data_folder():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # under `make test` the parent make's MAKEFLAGS/MAKELEVEL would add "Entering directory" lines
    env = {k: v for k, v in os.environ.items() if k not in ("INTERTASK_DATA", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    plan = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, env=env).stdout
    assert '-e ".[lab]"' in plan and plan.strip().endswith("jupyter lab notebooks/")
    shown = subprocess.run(["make", "-s", "--eval", "show-data: ; @echo $$INTERTASK_DATA", "show-data"], cwd=ROOT,
                           capture_output=True, text=True, env=env).stdout.strip()
    # ../shared may be a symbolic link (make's abspath keeps it): compare the folders, not the spellings
    assert Path(shown).resolve() == (ROOT.parent / "shared" / "data").resolve()


def test_without_intertask_data_a_notebook_finds_shared_data_or_stops_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("INTERTASK_DATA", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "notebooks").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo" / "notebooks")
    source = open_data()
    assert source.data_dir == (tmp_path / "shared" / "data").resolve()
    assert "INTERTASK_DATA is not set" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path / "repo")
    (tmp_path / "shared" / "data").rmdir()
    start = time.monotonic()
    with pytest.raises(MissingDataError, match="INTERTASK_DATA is not set.*data_source"):
        open_data()
    assert time.monotonic() - start < 1.0
    assert open_data(data_source="hub").data_dir is None  # asked for the hub: no local folder needed


def test_kernels_start_over_ipc_without_the_tcp_warning_and_stop_without_an_interrupt(tmp_path):
    """No TCP warning at start; at the end no SIGINT, which the idle kernel logged as an ERROR line."""
    script = tmp_path / "run.py"
    script.write_text(f"""
import signal
import nbformat, papermill as pm
from intertask.kernels import TiedKernelManager
sent = []
signal_kernel = TiedKernelManager._async_signal_kernel
async def spy(self, signum):
    sent.append(signum)
    await signal_kernel(self, signum)
TiedKernelManager._async_signal_kernel = spy
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
nb.metadata["kernelspec"] = {{"name": "python3", "language": "python", "display_name": "Python 3"}}
nbformat.write(nb, "in.ipynb")
out = pm.execute_notebook("in.ipynb", "out.ipynb", progress_bar=False, kernel_manager_class=TiedKernelManager)
print("signals", [signal.Signals(s).name for s in sent])
print("transport", TiedKernelManager().transport, out.cells[0].outputs[0].text.strip())
""")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["transport", "ipc", "42"]
    assert "without encryption" not in done.stderr, done.stderr[-2000:]
    assert "signals []" in done.stdout and "KeyboardInterrupt" not in done.stderr, done.stdout + done.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ipynb", "out.ipynb", "run.py"]  # no socket files here
