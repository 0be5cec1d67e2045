"""What the terminal shows: status (pipeline order, times, scores, one screen for a large study), the
leaderboard after `run`, the nested stage bar, `tasks`, `--version`, `run --dry-run`, examples in
every --help, and results.parquet beside results.csv.

Finished studies are written as the runner leaves them (stage folders with a manifest in status.json),
so no kernel starts and each test takes well under a second or two.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from tqdm.std import tqdm

from intertask import __version__, cli
from intertask.integrity import build_manifest, manifest_digest
from intertask.contracts import OFFLINE_MODEL
from intertask.overview import leaderboard, leaderboard_text, status_text
from intertask.progress import Status
from intertask.registry import TARGET_TASKS
from intertask.run import _StatusTicker, collect_results, stage_folder, stage_status, status_table
from intertask.study import expand, load_params, study_dir

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "params" / "tiny.yaml"


def _finish(folder: Path, files: dict[str, str], seconds: float, inputs: dict[str, str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    outputs = build_manifest(folder)
    digest = manifest_digest(outputs)
    (folder / "status.json").write_text(json.dumps({"status": "done", "seconds": seconds, "outputs": outputs,
                                                    "digest": digest, "inputs": inputs}))
    return digest


def finished_tiny(outputs: Path, scores: dict[str, dict[str, float]], skip: tuple[str, ...] = ()) -> dict:
    """The tiny study as a runner leaves it; `scores`: condition -> language -> accuracy."""
    params = load_params(TINY)
    root = study_dir(params, outputs)
    digests: dict[str, str] = {}
    for run in expand(params):
        for stage in run.stages:
            if stage.dirname in digests or stage.dirname in skip:
                continue
            folder = stage_folder(root, stage)
            parent = {stage.parent.dirname: digests[stage.parent.dirname]} if stage.parent else {}
            if stage.kind == "evaluate":
                rows = [{"study": "tiny", "run": run.id, "model": "m", "intermediate_tasks": run.condition, "seed": 1,
                         "target_task": "xnli", "language": lang, "split": "test", "metric": "accuracy",
                         "value": v, "n_examples": 32, "overlap": 0, "target_in_pool": False}
                        for lang, v in scores[run.condition].items()]
                files = {"results.csv": pd.DataFrame(rows).to_csv(index=False)}
            else:
                files = {"history.csv": "epoch,step,train_loss,seconds,dev_score,selected\n1,3,0.7,2.0,0.40,False\n"
                                        "2,6,0.6,2.0,0.45,True\n"}
            digests[stage.dirname] = _finish(folder, files, {"intermediate": 61.0, "target": 12.0,
                                                             "evaluate": 9.0}[stage.kind], parent)
    return params


SCORES = {"none": {"en": 0.5, "de": 0.30, "sw": 0.20}, "copa": {"en": 0.5, "de": 0.40, "sw": 0.30}}


def test_status_is_in_pipeline_order_with_times_and_scores(tmp_path):
    params = finished_tiny(tmp_path, SCORES)
    assert set(status_table(params, tmp_path)["status"]) == {"done"}
    text = status_text(params, tmp_path)
    header, *rows = text.splitlines()
    cols = header.split()
    assert cols[:5] == ["run", "status", "intermediate", "target", "evaluate"]
    copa = next(r for r in rows if r.startswith("copa__xnli__s1"))
    # stage times, the target's selected dev score (0.45) and the mean over de and sw (35 points), in points
    assert "done 1m01s" in copa and "done 12s" in copa and "done 9s" in copa
    assert copa.split()[-2:] == ["45.0", "35.0"]
    assert rows[-1] == "2 done of 2 run(s)"


def test_status_of_the_scaling_study_fits_one_screen(tmp_path, capsys, monkeypatch):
    params = ROOT / "params" / "scaling.yaml"
    monkeypatch.chdir(tmp_path)  # the default outputs/ folder, as a user sees it
    assert cli.main(["status", str(params)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(expand(load_params(params))) > 300  # the study is large ...
    assert len(out) <= 40 and max(map(len, out)) <= 120, "\n".join(out)  # ... its status is one screen
    assert out[0].split()[:6] == ["condition", "runs", "done", "failed", "running", "pending"]
    assert any(line.strip().startswith("none ") for line in out) and out[-1].startswith("disk:")
    assert cli.main(["status", str(params), "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) > 300  # --all: every run


def test_leaderboard_means_intervals_and_paired_gains():
    rows = []
    values = {("none", 1): (30, 20), ("none", 2): (34, 22), ("copa", 1): (36, 28), ("copa", 2): (38, 33)}
    for (cond, seed), (de, sw) in values.items():
        for lang, v in (("en", 90), ("de", de), ("sw", sw)):
            rows.append({"condition": cond, "seed": seed, "target_task": "xnli", "language": lang,
                         "metric": "accuracy", "value": v / 100, "status": "done"})
    board = leaderboard(pd.DataFrame(rows)).set_index("condition")
    assert list(board.index) == ["none", "copa"]  # the baseline first
    none = np.array([25.0, 28.0])  # per-seed means over de, sw (en is not zero-shot)
    copa = np.array([32.0, 35.5])
    gain = copa - none
    half = stats.t.ppf(0.975, 1) * gain.std(ddof=1) / np.sqrt(2)
    assert board.loc["copa", "gain"] == f"{gain.mean():+.1f} [{gain.mean() - half:.1f}, {gain.mean() + half:.1f}]"
    half = stats.t.ppf(0.975, 1) * none.std(ddof=1) / np.sqrt(2)
    assert board.loc["none", "score"] == f"{none.mean():.1f} [{none.mean() - half:.1f}, {none.mean() + half:.1f}]"
    assert board.loc["none", "gain"] == "baseline" and board.loc["copa", "seeds"] == 2
    offline = pd.DataFrame(rows).assign(model=OFFLINE_MODEL)
    assert "4-bit dequantized" in leaderboard_text(offline) and "4-bit" not in leaderboard_text(pd.DataFrame(rows))


def test_nested_bar_follows_the_kernel_status(tmp_path):
    path = tmp_path / ".progress"
    out = io.StringIO()
    outer = tqdm(total=2, file=out, desc="runs")
    with _StatusTicker(outer, path, "target", interval=60, nested=True) as ticker:  # ticks here by hand
        ticker.tick()  # no status yet: nothing to show
        assert ticker.inner is None
        path.write_text(json.dumps(Status("train steps", 3, 10, 4.0, "loss 0.7").__dict__))
        ticker.tick()
        assert (ticker.inner.n, ticker.inner.total) == (3, 10) and "train steps" in ticker.inner.desc
        path.write_text(json.dumps(Status("evaluate xnli", 1, 3, 1.0).__dict__))
        ticker.tick()  # the kernel's next loop: the bar starts over
        assert (ticker.inner.n, ticker.inner.total) == (1, 3) and "evaluate xnli" in ticker.inner.desc
    outer.close()


def test_version_tasks_and_help_examples(capsys, data_dir, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"intertask {__version__}"
    assert cli.main(["tasks", "--json", "--data", str(data_dir)]) == 0
    tasks = {t["task"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(tasks) == {t.name for t in TARGET_TASKS}
    for t in TARGET_TASKS:  # the registry's entries, with what is on this machine counted from files
        row = tasks[t.name]
        assert (row["format"], row["metric"], row["languages"]) == (t.format, t.metric, len(t.languages))
    assert tasks["xnli"]["offline"] == "15/15"
    # a data folder with two XNLI languages' files (test items come from the dev files) and nothing else
    some = tmp_path / "data" / "xtreme" / "xnli"
    some.mkdir(parents=True)
    for lang in ("de", "sw"):
        (some / f"dev-{lang}.tsv").symlink_to(data_dir / "xtreme" / "xnli" / f"dev-{lang}.tsv")
    assert cli.main(["tasks", "--json", "--data", str(tmp_path / "data")]) == 0
    tasks = {t["task"]: t for t in json.loads(capsys.readouterr().out)}
    assert tasks["xnli"]["offline"] == "2/15" and tasks["pawsx"]["offline"] == "no"
    assert cli.main(["tasks", "--pool"]) == 0
    assert "copa" in capsys.readouterr().out
    for command in [None, "run", "status", "tasks", "report", "verify", "export-predictions", "power", "audit",
                    "prepare-model"]:
        with pytest.raises(SystemExit):
            cli.main([command, "--help"] if command else ["--help"])
        assert "examples:\n  intertask " in capsys.readouterr().out, command


def test_dry_run_lists_what_would_execute_and_starts_nothing(tmp_path, capsys):
    assert cli.main(["run", str(TINY), "--outputs", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "copa__xnli__s1: intermediate run, target run, evaluate run" in out
    assert "5 stage(s): 5 would execute, 0 cached" in out
    assert not (tmp_path / "tiny").exists()  # nothing written, no kernel
    params = finished_tiny(tmp_path, SCORES, skip=tuple(s.dirname for r in expand(load_params(TINY))
                                                        if r.condition == "none" for s in r.stages))
    assert cli.main(["run", str(TINY), "--outputs", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "copa__xnli__s1: intermediate cached, target cached, evaluate cached" in out
    assert "none__xnli__s1: target run, evaluate run" in out and "2 would execute, 3 cached" in out
    assert all(stage_status(d) == "done" for d in (tmp_path / "tiny" / "stages").iterdir())
    assert params["study"] == "tiny"


def test_results_are_also_parquet(tmp_path):
    params = finished_tiny(tmp_path, SCORES)
    root = study_dir(params, tmp_path)
    table, missing = collect_results(root, expand(params))
    assert not missing and len(table) == 6
    csv, parquet = pd.read_csv(root / "results.csv"), pd.read_parquet(root / "results.parquet")
    pd.testing.assert_frame_equal(csv, parquet)


def test_kernel_bars_write_to_the_log_and_leave_one_line(tmp_path, monkeypatch, capsys):
    from intertask.progress import ENV_STATUS, LOG_NAME, progress, read_progress

    monkeypatch.setenv(ENV_STATUS, str(tmp_path / ".progress"))
    bar = progress(total=4, desc="train steps", unit="step", mininterval=0)
    for _ in range(4):
        for _ in progress(range(3), desc="predict xnli", mininterval=0):  # nested: never in the record
            pass
        bar.update(1)
        bar.set_postfix_str("loss 0.5")
    bar.close()
    captured = capsys.readouterr()
    assert captured.err == ""  # nothing for the notebook's stderr
    assert len(captured.out.splitlines()) == 1  # one line for the outermost loop ...
    assert captured.out.startswith("train steps: 4/4 step in ") and captured.out.strip().endswith("loss 0.5")
    log = (tmp_path / LOG_NAME).read_text()
    assert "\r" not in log and "\x1b" not in log  # plain lines, top to bottom
    assert "predict xnli: 100%" in log and "train steps: 100%" in log
    status = read_progress(tmp_path / ".progress")  # what the runner's stage bar reads
    assert (status.desc, status.n, status.total, status.postfix) == ("train steps", 4, 4, "loss 0.5")
