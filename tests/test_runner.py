"""The study runner end to end with a tiny encoder: runs, caching, failure isolation, Ctrl-C, report, verify."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from intertask import cli
from intertask.analysis import load_items
from intertask.results import OUTPUT_COLUMNS
from intertask.run import stage_status, status_table
from intertask.study import expand, load_params
from intertask.values import VALUES_MIME
from intertask.verify import verify_notebook


def study_file(tmp: Path, model: Path, name: str, extra: str = "") -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(f"""
study: {name}
model: {model}
data_source: local
seeds: [1]
intermediate:
  none: []
  copa: [copa]
{extra}
targets: [xnli]
languages: [en, de]
budgets:
  intermediate: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  target: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  eval: {{examples_per_language: 16, batch_size: 16}}
training: {{max_length: 64}}
keep_checkpoints: all  # the verify test re-executes an evaluation record, which reads its checkpoint
""")
    return p


@pytest.fixture(scope="module")
def finished_study(tiny_model, data_dir, tmp_path_factory):
    """One study with a failing condition (SST-2 has no local data), run once through the CLI."""
    tmp = tmp_path_factory.mktemp("study")
    params = study_file(tmp, tiny_model, "t1", extra="  broken: [sst2]")
    outputs = tmp / "outputs"
    rc = cli.main(["run", str(params), "--outputs", str(outputs)])
    return params, outputs, rc


def test_failed_run_is_isolated_and_reported(finished_study, capsys):
    params, outputs, rc = finished_study
    assert rc == 1  # a failure makes the command end non-zero ...
    root = outputs / "t1"
    table = pd.read_csv(root / "results.csv")
    assert list(table.columns) == OUTPUT_COLUMNS + ["condition", "status", "reason"]
    # the failed run is listed as missing, with the reason, never silently dropped ...
    missing = table[table["status"] == "missing"]
    assert list(missing["run"]) == ["broken__xnli__s1"] and "intermediate stage is failed" in missing["reason"].iloc[0]
    results = table[table["status"] == "done"]
    # ... and the other runs finished: 2 conditions x 2 languages
    assert sorted(results["run"].unique()) == ["copa__xnli__s1", "none__xnli__s1"]
    assert sorted(results["language"]) == ["de", "de", "en", "en"]
    assert (results["value"].between(0, 1)).all() and (results["n_examples"] == 16).all()
    failed = [d for d in (root / "stages").iterdir() if stage_status(d) == "failed"]
    assert len(failed) == 1 and failed[0].name.startswith("1-intermediate-broken")
    record = (failed[0] / "01_intermediate.ipynb").read_text()
    assert "MissingDataError" in record and "data_source: hub" in record  # the traceback stays in the record
    table = status_table(load_params(params), outputs)
    assert dict(zip(table["run"], table["status"])) == {"none__xnli__s1": "done", "copa__xnli__s1": "done",
                                                        "broken__xnli__s1": "failed"}


def test_rerun_skips_finished_stages(finished_study):
    params, outputs, _ = finished_study
    root = outputs / "t1"
    done = [d for d in (root / "stages").iterdir() if stage_status(d) == "done"]
    before = {d: (d / "status.json").stat().st_mtime_ns for d in done}
    rc = cli.main(["run", str(params), "--outputs", str(outputs), "--only", "none__xnli__s1", "copa__xnli__s1"])
    assert rc == 0
    assert {d: (d / "status.json").stat().st_mtime_ns for d in done} == before


def test_intermediate_checkpoint_is_shared(finished_study, tiny_model, tmp_path):
    params, outputs, _ = finished_study
    p = load_params(params)
    runs = expand(p)
    copa = [r for r in runs if r.condition == "copa"][0]
    target_params = json.loads((outputs / "t1" / "stages" / copa.stages[1].dirname / "params.json").read_text())
    assert target_params["parameters"]["init"] == f"../{copa.stages[0].dirname}/checkpoint"


def test_report_has_tables_and_plots(finished_study):
    _, outputs, _ = finished_study
    html = (outputs / "t1" / "report" / "report.html").read_text()
    assert "gain" in html.lower() and html.count("data:image/png;base64") >= 2
    figures = outputs / "t1" / "report" / "figures"
    # the zero-shot bars, and the gain heatmap: with item intervals (hatched) where items were scored
    assert (figures / "task_bars.png").exists()
    assert (figures / "item_gain_heatmap.png").exists() or (figures / "gain_heatmap.png").exists()


def test_killed_stage_shows_as_interrupted_and_is_redone(finished_study):
    params, outputs, _ = finished_study
    run = [r for r in expand(load_params(params)) if r.condition == "none"][0]
    folder = outputs / "t1" / "stages" / run.stages[-1].dirname
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({"status": "running", "pid": 2 ** 22 + 7, "host": os.uname().nodename}))
    try:
        assert stage_status(folder) == "interrupted"
        table = status_table(load_params(params), outputs)
        assert table.set_index("run").loc["none__xnli__s1", "status"] == "interrupted"
        assert cli.main(["run", str(params), "--outputs", str(outputs), "--only", "none__xnli__s1"]) == 0
        assert stage_status(folder) == "done"
    finally:
        if stage_status(folder) != "done":
            (folder / "status.json").write_text(json.dumps(status))


def test_verify_checks_recorded_values_not_formatting(finished_study, tmp_path):
    _, outputs, _ = finished_study
    ev = next((outputs / "t1" / "stages").glob("3-evaluate-none-*"))
    nb = nbformat.read(str(ev / "03_evaluate.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", []))
    printed = next(o for o in cell.outputs if o.output_type == "stream")
    printed.text = printed.text.replace("accuracy", "accuracy ", 1) + "(printed as an older version did)\n"
    reformatted = ev / "reformatted.ipynb"
    nbformat.write(nb, str(reformatted))
    ok, lines = verify_notebook(reformatted)
    assert ok, lines
    recorded = next(o for o in cell.outputs if VALUES_MIME in o.get("data", {})).data[VALUES_MIME]
    recorded["results"][1]["value"] += 0.5
    changed = ev / "changed.ipynb"
    nbformat.write(nb, str(changed))
    ok, lines = verify_notebook(changed)
    reformatted.unlink(), changed.unlink()
    assert not ok and any(line.startswith("DIFF") for line in lines)
    # the row is named by its text fields (language, metric, split label), the value by its column
    assert any(re.search(r"changed\.ipynb: recorded value results\[1 de accuracy[^\]]*\]\.value: expected", line)
               for line in lines), lines


def test_ctrl_c_keeps_finished_stages(tiny_model, data_dir, tmp_path):
    params = study_file(tmp_path, tiny_model, "t2")
    outputs = tmp_path / "outputs"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "intertask.cli", "run", str(params), "--outputs", str(outputs)],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    stages = outputs / "t2" / "stages"
    deadline = time.time() + 300
    while time.time() < deadline:
        if stages.exists() and any(stage_status(d) == "done" for d in stages.iterdir()):
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted: finished stages are kept" in err
    done = [d.name for d in stages.iterdir() if stage_status(d) == "done"]
    assert done
    # the rerun picks up where it stopped and leaves the finished stages alone
    assert cli.main(["run", str(params), "--outputs", str(outputs), "--no-report"]) == 0
    assert all(stage_status(stages / d) == "done" for d in done)
    assert len(pd.read_csv(outputs / "t2" / "results.csv")) == 4


def test_bad_params_file_exits_with_the_message(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("targets: [xnli]\nseed: [1]\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(p)])
    assert "unknown key 'seed'. Did you mean 'seeds'" in str(e.value)


def test_export_predictions_in_benchmark_layout(finished_study, tmp_path, capsys):
    params, outputs, _ = finished_study
    assert cli.main(["export-predictions", str(params), "--outputs", str(outputs), "--to", str(tmp_path / "sub")]) == 0
    files = sorted(p.relative_to(tmp_path / "sub").as_posix() for p in (tmp_path / "sub").rglob("*.tsv"))
    assert files == ["copa__s1/xnli/test-de.tsv", "copa__s1/xnli/test-en.tsv",
                     "none__s1/xnli/test-de.tsv", "none__s1/xnli/test-en.tsv"]
    lines = (tmp_path / "sub/none__s1/xnli/test-de.tsv").read_text().splitlines()
    assert len(lines) == 16 and set(lines) <= {"entailment", "neutral", "contradiction"}
    capsys.readouterr()
    assert cli.main(["export-predictions", str(params), "--outputs", str(outputs), "--to", str(tmp_path / "r"),
                     "--benchmark", "xtreme-r"]) == 0
    out = capsys.readouterr().out
    assert "none__s1: 2 files: INCOMPLETE XTREME-R submission" in out and "missing task xcopa (11 languages)" in out
    assert "xnli: missing 13 of 15 languages: ar, bg, el, es, fr, hi, ru, sw, th, tr, ur, vi, zh" in out


def test_scaling_design_runs_end_to_end(tiny_model, data_dir, tmp_path):
    """A drawn design through the runner: conditions metadata, seen languages, and the scaling report."""
    p = tmp_path / "scale.yaml"
    p.write_text(f"""
study: scale
model: {tiny_model}
data_source: local
design: {{pool: [copa, mrpc, udpos-de], k: [0, 1], draws: 1, arms: [english, diverse], seed: 3}}
targets: [xnli]
languages: [en, de]
budgets:
  intermediate: {{train_examples: 16, dev_examples: 8, total_tokens: 1600, batch_size: 8, sampler: uniform}}
  target: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  eval: {{examples_per_language: 16, batch_size: 16}}
training: {{max_length: 64}}
""")
    outputs = tmp_path / "outputs"
    assert cli.main(["run", str(p), "--outputs", str(outputs)]) == 0
    root = outputs / "scale"
    conditions = pd.read_csv(root / "conditions.csv")
    assert set(conditions["arm"]) == {"baseline", "english", "diverse", "control"}
    # every trained condition (the control too) spent the token budget, less than one item short of it
    trained = conditions.set_index("condition")["trained_tokens"]
    assert trained.isna()["none"] and all(1600 - 64 * 2 < trained[c] <= 1600 for c in trained.index if c != "none")
    runs = {json.loads(f.read_text())["condition"]: json.loads(f.read_text()) for f in (root / "runs").glob("*.json")}
    assert runs["none"]["intermediate_languages"] == []
    results = pd.read_csv(root / "results.csv")
    assert sorted(results["condition"].unique()) == sorted(conditions["condition"])
    html = (root / "report" / "report.html").read_text()
    assert "Scaling the number and diversity" in html and (root / "report/figures/gain_vs_k.png").exists()
    assert "has no scaling design" not in html
    # every evaluation records per-item scores, and the report puts paired item intervals on the gains
    items = [pd.read_csv(f) for f in root.glob("stages/3-evaluate-*/items.csv")]
    evaluations = {r["stages"][-1] for r in runs.values()}   # conditions that drew the same tasks share one
    assert len(items) == len(evaluations) and all(len(i) == 2 * 16 for i in items)
    assert set(load_items(root)["condition"]) == set(runs)
    assert (root / "report/figures/item_gain_heatmap.png").exists() and "not identified" in html
