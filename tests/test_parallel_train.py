"""Data-parallel training (2 CPU processes, gloo), kill -9 and resume, experiment tracking.

bf16 on CPU (issue 10, part 5) is tested by tests/test_precision.py::test_bf16_trains_and_evaluates_on_cpu.

The subprocesses run tests/parallel_worker.py; the single-process references run the same function
in-process (no second interpreter start-up on this 2-core machine).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from accelerate.tracking import get_available_trackers
from safetensors.torch import load_file

from parallel_worker import run_stage
from intertask.stages import build_model, load_features, open_data, train_and_save
from intertask.train import RESUME_DIR, TrainConfig, save_interval, shard

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("parallel_worker.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    env.pop("INTERTASK_STATUS_FILE", None)
    return env


def _weights(out: Path) -> dict[str, torch.Tensor]:
    ckpt = out / "checkpoint"
    return {f"{f.stem}.{k}": v for f in sorted(ckpt.glob("*.safetensors")) for k, v in load_file(f).items()}


def test_shards_cover_a_batch_in_order():
    idx = list(range(7))
    assert [shard(idx, r, 2) for r in range(2)] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [shard([9], r, 2) for r in range(2)] == [[9], []]  # a process may get nothing
    assert sum((shard(idx, r, 3) for r in range(3)), []) == idx


def test_two_processes_match_one_process(tiny_model, data_dir, tmp_path):
    """torchrun --nproc_per_node 2 (gloo) against one process with the same global batches.

    Global batches of 3 (2 + 1 per process) and a last batch of 1 (one process gets nothing) check the
    loss weighting of uneven shards. Dropout is off: its masks come from each process's own random
    stream. Tolerance 2e-5 on the weights (|w| <= ~1): the processes sum their shards' gradients
    before gloo adds the two, and each shard is padded to its own longest example, so float32 rounding
    differs in the last bits each step (measured: 5e-7 after 8 steps); the dev scores, predictions and
    metrics must be equal.
    """
    single, double = tmp_path / "one", tmp_path / "two"
    run_stage(str(tiny_model), str(data_dir), single, epochs=1, batch_size=3, no_dropout=True)
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(WORKER), str(tiny_model), str(data_dir),
           str(double), "--epochs", "1", "--batch-size", "3", "--no-dropout"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = _weights(single), _weights(double)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=2e-5, msg=name)
    h1, h2 = pd.read_csv(single / "history.csv"), pd.read_csv(double / "history.csv")
    assert list(h2["step"]) == [8]  # 8 global steps: the LR schedule counted global batches, not shards
    np.testing.assert_allclose(h2["train_loss"], h1["train_loss"], rtol=1e-5)  # global-batch mean loss
    assert list(h2["dev_xnli"]) == list(h1["dev_xnli"])
    r1, r2 = pd.read_csv(single / "eval" / "results.csv"), pd.read_csv(double / "eval" / "results.csv")
    assert r1.equals(r2)
    p1 = (single / "eval" / "predictions" / "xnli" / "test-de.tsv").read_text()
    assert (double / "eval" / "predictions" / "xnli" / "test-de.tsv").read_text() == p1  # gathered in order
    assert json.loads((double / "checkpoint" / "heads.json").read_text()).get("processes") == 2


def test_kill_9_then_rerun_resumes_and_matches(tiny_model, data_dir, tmp_path):
    """A stage killed (SIGKILL) after its state save at step 6 of 8 resumes there; same weights, history
    and results as an uninterrupted run, exactly (same process count, same CPU; dropout on: the saved
    RNG state must be restored for the masks to match)."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_stage(str(tiny_model), str(data_dir), whole)
    cmd = [sys.executable, str(WORKER), str(tiny_model), str(data_dir), str(killed), "--save-every", "3",
           "--kill-after-step", "6"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    assert (killed / RESUME_DIR / "latest").read_text() == "step-6"
    assert not (killed / "checkpoint").exists()
    run_stage(str(tiny_model), str(data_dir), killed, save_every=3)  # the rerun
    h1, h2 = pd.read_csv(whole / "history.csv"), pd.read_csv(killed / "history.csv")
    assert h2["resumed_from_step"].iloc[-1] == 6  # it did not start from step 0
    cols = [c for c in h1.columns if c != "seconds"]
    assert h2[cols].equals(h1[cols])
    a, b = _weights(whole), _weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert pd.read_csv(whole / "eval" / "results.csv").equals(pd.read_csv(killed / "eval" / "results.csv"))
    assert not (killed / RESUME_DIR).exists()  # deleted once the checkpoint was written


def test_save_every_is_checked():
    assert save_interval(500) == (500, None) and save_interval("30min") == (None, 1800.0)
    assert save_interval(0) == (None, None) and save_interval(None) == (None, None)
    with pytest.raises(ValueError, match="save_every.*30min"):
        save_interval("often")


def test_tracking_logs_or_names_the_missing_package(tiny_model, data_dir, tmp_path):
    model, tokenizer = build_model(str(tiny_model), ["xnli"])
    src = open_data(str(data_dir))
    train = load_features(src, ["xnli"], "train", tokenizer, 48, limit=8)
    dev = load_features(src, ["xnli"], "dev", tokenizer, 48, limit=8)
    with pytest.raises(ValueError, match="tracking must be one of tensorboard, mlflow, wandb"):
        train_and_save(model, tokenizer, train, dev, TrainConfig(epochs=1, batch_size=4, tracking="neptune"), tmp_path)
    cfg = TrainConfig(epochs=1, batch_size=4, tracking="tensorboard")
    if "tensorboard" not in {str(t) for t in get_available_trackers()}:
        with pytest.raises(ModuleNotFoundError, match="pip install tensorboard"):
            train_and_save(model, tokenizer, train, dev, cfg, tmp_path)
        return
    train_and_save(model, tokenizer, train, dev, cfg, tmp_path)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted((tmp_path / "tracking").rglob("events.out.tfevents.*"))
    assert events
    logged = set()
    for f in events:
        acc = EventAccumulator(str(f))
        acc.Reload()
        logged |= set(acc.Tags()["scalars"])
    assert {"train_loss", "dev_score", "dev_xnli"} <= logged


def test_save_every_and_tracking_in_the_params_file_leave_stage_hashes_alone(tmp_path):
    from intertask.study import ParamsError, expand, load_params

    text = (ROOT / "params" / "tiny.yaml").read_text()
    plain = {s.hash: s for r in expand(load_params(ROOT / "params" / "tiny.yaml")) for s in r.stages}
    changed = tmp_path / "tiny.yaml"
    changed.write_text(text.replace('training: {mixed_precision: "no"}',
                                    'training: {mixed_precision: "no", save_every: 50, tracking: tensorboard}'))
    stages = {s.hash: s for r in expand(load_params(changed)) for s in r.stages}
    assert stages.keys() == plain.keys()  # turning them on never redoes a finished stage
    trained = [s for s in stages.values() if s.kind != "evaluate"]
    assert trained and all((s.parameters["save_every"], s.parameters["tracking"]) == (50, "tensorboard")
                           for s in trained)
    for bad, field in (("save_every: often", "training.save_every. must be a number of steps"),
                       ("tracking: neptune", "training.tracking. must be one of")):
        changed.write_text(text.replace('training: {mixed_precision: "no"}', f'training: {{{bad}}}'))
        with pytest.raises(ParamsError, match=field):
            load_params(changed)
