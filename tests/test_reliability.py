"""Nothing finished is lost or silently wrong (issue 9): each failure the issue lists, reproduced.

One tiny study is run once; the tests break it the way users and machines do (a deleted results
file, a truncated checkpoint, a copied study, an edited record, a changed budget) and check that
`status` names the problem and `run` redoes exactly what is affected. Then: two runners at once,
kill -9 at seeded random points, and the one-line errors of the command line.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from intertask import cli
from intertask.integrity import ALWAYS_HASH
from intertask.run import collect_results, stage_state, status_table
from intertask.study import expand, load_params
from intertask.verify import verify_notebook


def study_file(tmp: Path, model: Path, name: str, languages: str = "[en, de]") -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(f"""
study: {name}
model: {model}
data_source: local
seeds: [1]
keep_checkpoints: all  # these tests damage and inspect checkpoints, so none is deleted
intermediate:
  none: []
  copa: [copa]
targets: [xnli]
languages: {languages}
budgets:
  intermediate: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  target: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  eval: {{examples_per_language: 16, batch_size: 16}}
training: {{max_length: 64}}
""")
    return p


def folders(params: Path, outputs: Path) -> dict[str, Path]:
    """Stage folders by '<condition>-<kind>'."""
    p = load_params(params)
    return {f"{run.condition}-{s.kind}": outputs / p["study"] / "stages" / s.dirname
            for run in expand(p) for s in run.stages}


def attempts(folder: Path) -> int:
    log = folder / "attempts.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def run_cli(*args: str) -> int:
    return cli.main(["run", *args, "--no-report"])


@pytest.fixture(scope="module")
def study(tiny_model, data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reliable")
    params = study_file(tmp, tiny_model, "rel")
    outputs = tmp / "outputs"
    assert run_cli(str(params), "--outputs", str(outputs)) == 0
    return params, outputs


def results(outputs: Path, name: str = "rel") -> pd.DataFrame:
    return pd.read_csv(outputs / name / "results.csv")


def test_done_records_list_outputs_with_sizes_and_hashes(study):
    params, outputs = study
    f = folders(params, outputs)
    st = json.loads((f["copa-target"] / "status.json").read_text())
    assert {"02_target.ipynb", "history.csv", "checkpoint/encoder.safetensors", "params.json"} <= set(st["outputs"])
    entry = st["outputs"]["checkpoint/encoder.safetensors"]
    assert entry["size"] == (f["copa-target"] / "checkpoint/encoder.safetensors").stat().st_size
    assert len(entry["sha256"]) == 64
    ev = json.loads((f["copa-evaluate"] / "status.json").read_text())
    assert ev["inputs"] == {f["copa-target"].name: st["digest"]}  # the evaluation knows what it was computed from


def test_deleted_stage_results_make_the_stage_invalid_and_it_is_redone(study, capsys):
    params, outputs = study
    ev = folders(params, outputs)["none-evaluate"]
    (ev / "results.csv").unlink()
    assert stage_state(ev) == ("invalid", "results.csv is missing")
    table = status_table(load_params(params), outputs).set_index("run")
    assert table.loc["none__xnli__s1", "status"] == "invalid"
    assert table.loc["none__xnli__s1", "reason"] == "evaluate: results.csv is missing"
    # the study table lists the run as missing instead of dropping it
    _, missing = collect_results(outputs / "rel", expand(load_params(params)))
    assert list(missing) == ["none__xnli__s1"] and "results.csv is missing" in missing["none__xnli__s1"]
    capsys.readouterr()
    assert run_cli(str(params), "--outputs", str(outputs)) == 0
    out = capsys.readouterr().out
    assert f"REDONE {ev.name}: was invalid: results.csv is missing" in out
    assert attempts(ev) == 2 and stage_state(ev)[0] == "done"
    df = results(outputs)
    assert (df["status"] == "done").all() and len(df) == 4  # 2 runs x 2 languages, nothing dropped


def test_truncated_checkpoint_redoes_the_stage_and_its_dependants(study):
    params, outputs = study
    f = folders(params, outputs)
    weights = f["copa-target"] / "checkpoint" / "encoder.safetensors"
    with open(weights, "r+b") as fh:
        fh.truncate(weights.stat().st_size // 2)
    state, why = stage_state(f["copa-target"])
    assert state == "invalid" and why.startswith("checkpoint/encoder.safetensors changed size")
    state, why = stage_state(f["copa-evaluate"])
    assert state == "invalid" and f"its input stage {f['copa-target'].name} is invalid" in why
    before = {k: attempts(v) for k, v in f.items()}
    assert run_cli(str(params), "--outputs", str(outputs)) == 0
    after = {k: attempts(v) for k, v in f.items()}
    redone = sorted(k for k in f if after[k] > before[k])
    assert redone == ["copa-evaluate", "copa-target"]  # not the intermediate stage, not the other run
    assert all(stage_state(v)[0] == "done" for v in f.values())


def test_a_checkpoint_altered_in_place_is_found_by_check(study):
    params, outputs = study
    f = folders(params, outputs)
    weights = f["none-target"] / "checkpoint" / "encoder.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: only the hash can tell
    weights.write_bytes(bytes(data))
    # the cheap check hashes small files only (a tiny model's small checkpoint is one); large ones by size
    cheap = "done" if len(data) > ALWAYS_HASH else "invalid"
    assert stage_state(f["none-target"])[0] == cheap
    assert stage_state(f["none-target"], full=True) == ("invalid", "checkpoint/encoder.safetensors changed content "
                                                                   "(sha256 differs from the record)")
    table = status_table(load_params(params), outputs, full=True).set_index("run")
    assert table.loc["none__xnli__s1", "status"] == "invalid"
    assert run_cli(str(params), "--outputs", str(outputs), "--check") == 0
    assert stage_state(f["none-target"], full=True)[0] == "done" and attempts(f["none-target"]) == 2


def test_a_tampered_stage_results_file_never_reaches_the_study_table(study):
    params, outputs = study
    ev = folders(params, outputs)["copa-evaluate"]
    text = (ev / "results.csv").read_text()
    row = text.splitlines()[1]
    value = row.split(",")[9]
    forged = value[:-1] + ("1" if value[-1] != "1" else "2")  # same length: the size alone cannot tell
    (ev / "results.csv").write_text(text.replace(row, row.replace(value, forged, 1)))
    assert stage_state(ev) == ("invalid", "results.csv changed content (sha256 differs from the record)")
    df, missing = collect_results(outputs / "rel", expand(load_params(params)))
    assert "copa__xnli__s1" in missing and forged not in (outputs / "rel" / "results.csv").read_text()
    assert run_cli(str(params), "--outputs", str(outputs)) == 0
    assert (results(outputs)["status"] == "done").all()


def test_verify_uses_the_package_template_and_checks_results(study):
    """An edited record (code and output agreeing on a forged value) and a forged results.csv are both caught."""
    params, outputs = study
    ev = folders(params, outputs)["none-evaluate"]
    record = ev / "03_evaluate.ipynb"
    ok, lines = verify_notebook(record)
    assert ok, lines
    assert "OK   results.csv matches its recorded sha256" in lines and "OK   results.csv matches the re-execution" in lines
    original = record.read_bytes(), (ev / "results.csv").read_bytes()
    try:
        nb = nbformat.read(str(record), as_version=4)
        cell = next(c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", []))
        cell.source = "print('en accuracy 0.999 16')"
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="en accuracy 0.999 16\n")]
        nbformat.write(nb, str(record))
        ok, lines = verify_notebook(record)
        assert not ok and any(line.startswith("DIFF cell") for line in lines)
        record.write_bytes(original[0])
        (ev / "results.csv").write_text(original[1].decode().replace(",de,", ",de ,", 1))
        ok, lines = verify_notebook(record)
        assert not ok
        assert "DIFF results.csv: sha256 differs from the one recorded when the stage finished" in lines
        assert any(line.startswith("DIFF results.csv differs from the re-execution") for line in lines)
    finally:
        record.write_bytes(original[0])
        (ev / "results.csv").write_bytes(original[1])
    assert stage_state(ev)[0] == "done"


def test_copied_study_without_checkpoints_is_not_done(study, tmp_path):
    params, outputs = study
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy, ignore=shutil.ignore_patterns("checkpoint"))
    table = status_table(load_params(params), copy).set_index("run")
    assert set(table["status"]) == {"invalid"}
    assert table.loc["copa__xnli__s1", "reason"].startswith("intermediate: checkpoint/")
    assert "is missing" in table.loc["copa__xnli__s1", "reason"]


def test_budget_change_whose_evaluations_fail_lists_runs_missing_not_old_numbers(study, tmp_path, capsys):
    params, outputs = study
    changed = tmp_path / "rel.yaml"
    changed.write_text(params.read_text().replace("examples_per_language: 16", "examples_per_language: 12"))
    empty = tmp_path / "empty-data"
    empty.mkdir()
    capsys.readouterr()
    assert run_cli(str(changed), "--outputs", str(outputs), "--data", str(empty)) == 1
    out = capsys.readouterr().out
    df = results(outputs)
    assert set(df["status"]) == {"missing"} and sorted(df["run"]) == ["copa__xnli__s1", "none__xnli__s1"]
    assert df["value"].isna().all() and "evaluate stage is failed: MissingDataError" in df["reason"].iloc[0]
    assert "2 run(s) listed as missing" in out
    # going back to the old budget brings the old, still verifiable, numbers back without recomputing
    assert run_cli(str(params), "--outputs", str(outputs)) == 0
    assert (results(outputs)["status"] == "done").all() and len(results(outputs)) == 4


# ---------------------------------------------------------------------------------------------
# several runners, killed runners


def _runner(params: Path, outputs: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "INTERTASK_WAIT_POLL": "0.5"}
    return subprocess.Popen([sys.executable, "-m", "intertask.cli", "run", str(params), "--outputs", str(outputs),
                             "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def serial(tiny_model, data_dir, tmp_path_factory):
    """A small study run once, uninterrupted, by one runner: what every other way must reproduce."""
    tmp = tmp_path_factory.mktemp("serial")
    params = study_file(tmp, tiny_model, "pair", languages="[de]")
    assert run_cli(str(params), "--outputs", str(tmp / "outputs")) == 0
    return params, results(tmp / "outputs", "pair")


def test_two_runners_at_once_run_each_stage_exactly_once(serial, tmp_path):
    params, reference = serial
    outputs = tmp_path / "outputs"
    procs = [_runner(params, outputs), _runner(params, outputs)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    stages = sorted((outputs / "pair" / "stages").iterdir())
    assert len(stages) == 5  # intermediate, 2 targets, 2 evaluations
    assert {s.name: attempts(s) for s in stages} == {s.name: 1 for s in stages}
    pd.testing.assert_frame_equal(results(outputs, "pair"), reference)


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_kill_9_at_random_points_loses_nothing(serial, tmp_path):
    """Chaos: kill -9 the runner at 3 seeded random moments, then run to the end: the same results.

    Also: the kernel of a killed runner dies with it (no orphan keeps training).
    """
    params, reference = serial
    outputs = tmp_path / "outputs"
    rng = random.Random(9)
    kernels_killed = 0
    for _ in range(3):
        proc = _runner(params, outputs)
        deadline = time.time() + rng.uniform(4.0, 14.0)
        kernels: set[int] = set()
        while time.time() < deadline and proc.poll() is None:
            kernels.update(_children(proc.pid))
            time.sleep(0.2)
        if proc.poll() is None:
            kernels.update(_children(proc.pid))
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        wait = time.time() + 10
        while time.time() < wait and not all(_gone(k) for k in kernels):
            time.sleep(0.1)
        assert all(_gone(k) for k in kernels), "a killed runner's kernel kept running"
        kernels_killed += bool(kernels)
    assert kernels_killed >= 1  # at least one kill landed while a stage was running
    assert run_cli(str(params), "--outputs", str(outputs)) == 0
    pd.testing.assert_frame_equal(results(outputs, "pair"), reference)
    for stage in (outputs / "pair" / "stages").iterdir():
        assert stage_state(stage, full=True)[0] == "done"


# ---------------------------------------------------------------------------------------------
# one clear line for bad input


def test_unknown_only_run_is_one_line_and_exit_2(study, capsys):
    params, outputs = study
    assert run_cli(str(params), "--outputs", str(outputs), "--only", "bogus") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: --only: unknown run id(s) ['bogus']")
    assert "none__xnli__s1" in err


def test_unwritable_outputs_folder_is_one_line_and_exit_2(study, tmp_path, capsys):
    params, _ = study
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the outputs folder should be")
    assert run_cli(str(params), "--outputs", str(blocked)) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: cannot write to the outputs folder {blocked / 'rel'}")
    assert "--outputs DIR" in err and "results:" not in captured.out  # never a results path that is not there


def test_verify_on_a_non_notebook_is_one_line_and_exit_2(study, capsys):
    params, outputs = study
    target = outputs / "rel" / "results.csv"
    assert cli.main(["verify", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {target} is not a Jupyter notebook")


def test_a_non_utf8_byte_names_file_line_and_encoding(data_dir, tmp_path):
    from intertask.data import DataSource, MalformedDataError
    from intertask.registry import get_task

    src = data_dir / "xtreme" / "xnli" / "dev-en.tsv"
    bad = tmp_path / "xtreme" / "xnli" / "dev-en.tsv"
    bad.parent.mkdir(parents=True)
    lines = src.read_bytes().split(b"\n")
    lines[6] = lines[6][:10] + b"\xe9" + lines[6][10:]  # a Latin-1 é on line 7
    bad.write_bytes(b"\n".join(lines))
    with pytest.raises(MalformedDataError, match=rf"{bad}:7:11: byte 0xe9 is not valid UTF-8; data files must be "
                                                 r"UTF-8 encoded. Re-save the file as UTF-8"):
        DataSource(tmp_path, "local").load(get_task("xnli"), "test", "en")


def test_auto_with_an_empty_data_folder_names_the_missing_files_before_trying_the_hub(tmp_path, monkeypatch, capsys):
    import intertask.data as data
    from intertask.registry import get_task

    def offline_hub(task, split, lang):
        print("HUB CALLED")
        raise data.MissingDataError("hub unreachable") from ConnectionError("no network")

    monkeypatch.setattr(data, "load_hub_split", offline_hub)
    with pytest.raises(data.MissingDataError) as e:
        data.DataSource(tmp_path, "auto").load(get_task("xnli"), "test", "de")
    out = capsys.readouterr().out
    expected = tmp_path / "xtreme" / "xnli" / "dev-de.tsv"
    assert out.index(f"xnli (de): local file(s) not found: {expected}; data_source is auto, so trying the "
                     f"Hugging Face hub") < out.index("HUB CALLED")
    message = str(e.value)
    assert f"the expected local file(s) are missing ({expected}; data folder: {tmp_path})" in message
    assert "no network" in message and "INTERTASK_DATA" not in message


def test_a_truncated_checkpoint_loaded_directly_names_the_folder_and_the_fix(study, tmp_path):
    """A notebook run by hand on a damaged checkpoint: no raw SafetensorError."""
    from intertask.models import ModelNotFoundError, load_checkpoint
    from intertask.registry import get_task

    params, outputs = study
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(folders(params, outputs)["none-target"] / "checkpoint", ckpt)
    weights = ckpt / "encoder.safetensors"
    with open(weights, "r+b") as fh:
        fh.truncate(weights.stat().st_size // 3)
    with pytest.raises(ModelNotFoundError, match=rf"{ckpt}: checkpoint files are unreadable .*`intertask run` redoes it"):
        load_checkpoint(ckpt, [get_task("xnli")])
