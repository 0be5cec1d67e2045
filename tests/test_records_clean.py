"""The committed stage records of the tiny study read cleanly: no progress-bar redraws, cursor
escapes, widget warnings or model-load reports, one final line per loop, and a training curve in
the training stages (their bars went to progress.log beside each notebook)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

RECORDS = Path(__file__).resolve().parents[1] / "outputs" / "tiny" / "stages"
NOISE = ("\r", "\x1b[", "IProgress", "LOAD REPORT", "Loading weights", "without encryption")


def _records() -> list[Path]:
    found = sorted(RECORDS.glob("*/*.ipynb"))
    if not found:
        pytest.fail(f"no records under {RECORDS}: run `intertask run params/tiny.yaml` and commit outputs/tiny")
    return found


@pytest.mark.parametrize("record", _records(), ids=lambda p: p.parent.name)
def test_stage_records_hold_no_progress_noise(record):
    nb = nbformat.read(str(record), as_version=4)
    streams = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    text = "".join(o.text for o in streams)
    assert not [n for n in NOISE if n in text], [n for n in NOISE if n in text]
    assert not [o for o in streams if o.name == "stderr"], "a stage record should hold no stderr on a clean run"
    loops = [line for line in text.splitlines() if line.startswith(("train steps:", "evaluate "))]
    assert len(loops) == 1 and " in " in loops[0], loops  # the one final line of the stage's main loop
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == (0 if record.name == "03_evaluate.ipynb" else 1)  # the training curve in 01 and 02
