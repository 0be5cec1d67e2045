"""keep_checkpoints: finished readers let a checkpoint go; a later reader gets it re-created; status shows disk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from intertask import cli
from intertask.integrity import build_manifest, manifest_digest
from intertask.footprint import PRUNED, StageNode, disk_usage, may_delete, prune_checkpoints, reopen_pruned
from intertask.run import stage_status


def _stage(root: Path, name: str, status: str, checkpoint: bool = False, results: bool = False) -> Path:
    """A stage folder as the runner leaves it: its outputs, then status.json with their manifest."""
    d = root / name
    d.mkdir(parents=True)
    if checkpoint:
        (d / "checkpoint").mkdir()
        (d / "checkpoint" / "encoder.safetensors").write_bytes(b"x" * 1000)
    if results:
        (d / "results.csv").write_text("a\n1\n")
    outputs = build_manifest(d)
    (d / "status.json").write_text(json.dumps({"status": status, "outputs": outputs,
                                               "digest": manifest_digest(outputs)}))
    return d


def test_policies():
    assert may_delete("target", "intermediate") and not may_delete("intermediate", "intermediate")
    assert may_delete("target", "none") and may_delete("intermediate", "none")
    assert not may_delete("target", "all") and not may_delete("intermediate", "all")
    with pytest.raises(ValueError, match="keep_checkpoints must be one of"):
        may_delete("target", "some")


def test_a_checkpoint_goes_only_when_every_reader_is_verifiably_done(tmp_path):
    t = _stage(tmp_path, "2-target-a", "done", checkpoint=True)
    e1 = _stage(tmp_path, "3-evaluate-a", "done", results=True)
    e2 = _stage(tmp_path, "3-evaluate-b", "done")  # done, but its results.csv is missing: not verifiably done
    node = StageNode(t, "target", [(e1, "evaluate"), (e2, "evaluate")])
    assert prune_checkpoints([node], "intermediate", stage_status) == []
    (e2 / "results.csv").write_text("a\n1\n")
    assert prune_checkpoints([node], "all", stage_status) == []
    assert prune_checkpoints([node], "intermediate", stage_status) == [t / "checkpoint"]
    marker = json.loads((t / PRUNED).read_text())
    assert marker["bytes"] == 1000 and marker["read_by"] == ["3-evaluate-a", "3-evaluate-b"]
    assert not (t / "checkpoint").exists() and stage_status(t) == "done"
    usage = disk_usage(tmp_path)
    assert usage["kept"] == 0 and usage["deleted"] == 1 and usage["freed"] == 1000


def test_reopen_re_runs_the_pruned_chain_a_pending_stage_needs(tmp_path):
    i = _stage(tmp_path, "1-i", "done")
    (i / PRUNED).write_text("{}")
    t = _stage(tmp_path, "2-t", "done")
    (t / PRUNED).write_text("{}")
    e = _stage(tmp_path, "3-e", "done", results=True)
    assert reopen_pruned([i, t, e], stage_status) == []  # nothing pending: nothing to re-create
    (e / "status.json").unlink()
    assert reopen_pruned([i, t, e], stage_status) == [t, i]
    assert stage_status(t) == "pending" and stage_status(i) == "pending" and not (t / PRUNED).exists()


def _study(tmp: Path, model: Path, languages: str, policy: str) -> Path:
    p = tmp / "k.yaml"
    p.write_text(f"""
study: k
model: {model}
data_source: local
intermediate: {{copa: [copa]}}
targets: [xnli]
languages: {languages}
keep_checkpoints: {policy}
budgets:
  intermediate: {{train_examples: 8, dev_examples: 4, epochs: 1, batch_size: 8}}
  target: {{train_examples: 8, dev_examples: 4, epochs: 1, batch_size: 8}}
  eval: {{examples_per_language: 8, batch_size: 8}}
training: {{max_length: 32, mixed_precision: "no"}}
""")
    return p


def test_runner_deletes_finished_checkpoints_and_recreates_them_when_needed(tiny_model, data_dir, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    assert cli.main(["run", str(_study(tmp_path, tiny_model, "[en]", "none")), "--outputs", str(outputs),
                     "--no-report"]) == 0
    stages = outputs / "k" / "stages"
    inter, target = next(stages.glob("1-intermediate-*")), next(stages.glob("2-target-*"))
    assert (inter / PRUNED).exists() and (target / PRUNED).exists()
    assert not (inter / "checkpoint").exists() and not (target / "checkpoint").exists()
    capsys.readouterr()
    assert cli.main(["status", str(_study(tmp_path, tiny_model, "[en]", "none")), "--outputs", str(outputs)]) == 0
    assert "2 deleted by keep_checkpoints: none" in capsys.readouterr().out
    # a new language needs the target checkpoint again: the chain is re-run, then pruned again
    params = _study(tmp_path, tiny_model, "[en, de]", "intermediate")
    assert cli.main(["run", str(params), "--outputs", str(outputs), "--no-report"]) == 0
    results = pd.read_csv(outputs / "k" / "results.csv")
    assert sorted(results["language"]) == ["de", "en"]  # the new evaluation stage ran on the re-created checkpoint
    # English test features came from the first evaluation's entry in the study's feature cache
    assert len(list((outputs / "k" / "cache" / "features").glob("*.pkl"))) == 2
    evaluation = next(d for d in stages.glob("3-evaluate-*")  # the [en, de] evaluation (glob order is the disk's)
                      if "de" in json.loads((d / "params.json").read_text())["parameters"]["languages"])
    assert "1 language(s) read from ../../cache/features, 1 tokenized" in (evaluation / "03_evaluate.ipynb").read_text()
    assert (inter / "checkpoint").exists() and not (inter / PRUNED).exists()  # policy intermediate keeps it
    assert (target / PRUNED).exists() and not (target / "checkpoint").exists()
    capsys.readouterr()
    assert cli.main(["status", str(params), "--outputs", str(outputs)]) == 0
    assert "in 1 checkpoint(s); 1 deleted by keep_checkpoints: intermediate" in capsys.readouterr().out
