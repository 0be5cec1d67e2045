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


def test_training_curve_shows_loss_dev_scores_and_the_kept_checkpoint():
    import pandas as pd

    from intertask.stages import plot_training_curve

    history = pd.DataFrame({"epoch": [1, 1, 2], "step": [5, 10, 15], "train_loss": [1.1, 0.9, 0.8],
                            "dev_anli": [0.30, 0.35, 0.33], "dev_copa": [0.5, 0.6, 0.55],
                            "dev_score": [0.40, 0.475, 0.44], "selected": [False, True, False]})
    fig = plot_training_curve(history, title="intermediate: anli+copa")
    loss_ax, dev_ax = fig.axes
    assert list(loss_ax.lines[0].get_ydata()) == [1.1, 0.9, 0.8]
    labels = [line.get_label() for line in dev_ax.lines]
    assert labels == ["anli", "copa", "dev score"]  # each task's dev score, and the combined one, in points
    assert list(dev_ax.lines[-1].get_ydata()) == pytest.approx([40.0, 47.5, 44.0])
    ring = dev_ax.collections[0].get_offsets()
    assert ring.tolist() == [[10.0, 47.5]]  # the selected checkpoint
