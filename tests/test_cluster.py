"""Stages as jobs (issue 10, part 1): Slurm submission through submitit against a fake `sbatch`, the
local executor against the committed serial records, and a runner sharing a study with a job set."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from intertask import cli, cluster
from intertask.cluster import distributed_stage_command, slurm_parameters
from intertask.run import status_table
from intertask.study import expand, load_params

ROOT = Path(__file__).resolve().parents[1]

FAKE_SLURM = {
    # sbatch keeps the script and answers like Slurm; job ids count up from 101
    "sbatch": """#!/bin/sh
n=$(($(cat "$FAKE/count" 2>/dev/null || echo 100) + 1)); echo $n > "$FAKE/count"
cp "$1" "$FAKE/job-$n.sh"; echo "Submitted batch job $n"
""",
    "sacct": """#!/bin/sh
echo 'JobID|State|NodeList'; cat "$FAKE/states" 2>/dev/null
""",
    "scancel": """#!/bin/sh
echo "$@" >> "$FAKE/cancelled"
""",
    "srun": "#!/bin/sh\nexit 0\n",  # submitit only checks that it exists
}


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch) -> Path:
    fake = tmp_path / "slurm"
    fake.mkdir()
    for name, text in FAKE_SLURM.items():
        (fake / name).write_text(text)
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE", str(fake))
    return fake


def cluster_study(tmp: Path) -> Path:
    p = tmp / "cl.yaml"
    p.write_text("""
study: cl
seeds: [1]
intermediate: {none: [], copa: [copa]}
targets: [xnli]
languages: [en, de]
executor:
  partition: gpu-a100
  gpus_per_job: 2
  cpus_per_job: 6
  mem_gb: 48
  time_min: 90
  extra: {account: nlp-lab, qos: high, exclusive: true}
""")
    return p


def sbatch_flags(script: Path) -> dict[str, str]:
    return dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(.*))?$", script.read_text(), re.M))


def submitted(fake: Path) -> dict[str, dict[str, str]]:
    """{stage folder name: its sbatch flags} for every job the fake sbatch received."""
    out = {}
    for script in sorted(fake.glob("job-*.sh")):
        flags = sbatch_flags(script)
        out[flags["job-name"].split(":", 1)[1]] = {**flags, "id": script.stem.split("-")[1]}
    return out


def test_slurm_jobs_carry_the_settings_and_afterok_dependencies(fake_slurm, tmp_path, capsys):
    params_file = cluster_study(tmp_path)
    outputs = tmp_path / "outputs"
    assert cli.main(["run", str(params_file), "--outputs", str(outputs), "--executor", "slurm"]) == 0
    assert "5 job(s) submitted" in capsys.readouterr().out
    jobs = submitted(fake_slurm)
    assert len(jobs) == 5  # 1 intermediate (copa), 2 targets, 2 evaluations; no job for nothing
    by_kind = {name.split("-", 1)[1].rsplit("-", 1)[0]: flags for name, flags in jobs.items()}
    for flags in jobs.values():
        assert flags["partition"] == "gpu-a100" and flags["gpus-per-node"] == "2"
        assert flags["cpus-per-task"] == "6" and flags["mem"] == "48G" and flags["time"] == "90"
        assert flags["account"] == "nlp-lab" and flags["qos"] == "high" and "exclusive" in flags
    inter = by_kind["intermediate-copa"]["id"]
    assert "dependency" not in by_kind["intermediate-copa"] and "dependency" not in by_kind["target-none-xnli"]
    assert by_kind["target-copa-xnli"]["dependency"] == f"afterok:{inter}"
    assert by_kind["evaluate-copa-xnli"]["dependency"] == f"afterok:{by_kind['target-copa-xnli']['id']}"
    assert by_kind["evaluate-none-xnli"]["dependency"] == f"afterok:{by_kind['target-none-xnli']['id']}"
    recorded = json.loads((outputs / "cl" / "jobs.json").read_text())
    assert {name: r["job"] for name, r in recorded.items()} == {name: f["id"] for name, f in jobs.items()}

    # status: one job column with sacct's state (the fake sacct reports them)
    ids = {kind: f["id"] for kind, f in by_kind.items()}
    (fake_slurm / "states").write_text(f"{ids['intermediate-copa']}|FAILED|n1\n{ids['target-copa-xnli']}|PENDING|\n"
                                       f"{ids['evaluate-copa-xnli']}|PENDING|\n{ids['target-none-xnli']}|RUNNING|n2\n"
                                       f"{ids['evaluate-none-xnli']}|PENDING|\n")
    table = status_table(load_params(params_file), outputs).set_index("run")
    assert table.loc["copa__xnli__s1", "job"] == f"{ids['intermediate-copa']} FAILED"
    assert table.loc["none__xnli__s1", "job"] == f"{ids['target-none-xnli']} RUNNING"

    # rerun: only the failed stage and the two queued behind it (they would never start) are resubmitted
    assert cli.main(["run", str(params_file), "--outputs", str(outputs), "--executor", "slurm"]) == 0
    assert "3 job(s) submitted, 2 still queued or running" in capsys.readouterr().out
    cancelled = (fake_slurm / "cancelled").read_text().split()
    assert sorted(cancelled) == sorted([ids["target-copa-xnli"], ids["evaluate-copa-xnli"]])
    new = {kind: f for kind, f in ((n.split("-", 1)[1].rsplit("-", 1)[0], f) for n, f in submitted(fake_slurm).items())}
    assert new["target-none-xnli"]["id"] == ids["target-none-xnli"]  # untouched
    assert int(new["intermediate-copa"]["id"]) > 105
    assert new["target-copa-xnli"]["dependency"] == f"afterok:{new['intermediate-copa']['id']}"
    assert new["evaluate-copa-xnli"]["dependency"] == f"afterok:{new['target-copa-xnli']['id']}"

    # while everything is queued, a third run submits nothing
    (fake_slurm / "states").write_text("".join(f"{f['id']}|PENDING|\n" for f in new.values()))
    assert cli.main(["run", str(params_file), "--outputs", str(outputs), "--executor", "slurm"]) == 0
    assert "0 job(s) submitted, 5 still queued or running" in capsys.readouterr().out


def test_max_parallel_on_slurm_uses_singleton_slots(fake_slurm, tmp_path):
    params_file = cluster_study(tmp_path)
    params_file.write_text(params_file.read_text() + "  max_parallel: 2\n")
    assert cli.main(["run", str(params_file), "--outputs", str(tmp_path / "o"), "--executor", "slurm"]) == 0
    scripts = [sbatch_flags(s) for s in sorted(fake_slurm.glob("job-*.sh"))]
    assert {s["job-name"] for s in scripts} == {"cl-0", "cl-1"}  # one job per name runs at a time
    assert all(s["dependency"].endswith("singleton") for s in scripts)


def test_bad_executor_settings_name_the_field(tmp_path, capsys):
    p = cluster_study(tmp_path)
    p.write_text(p.read_text().replace("gpus_per_job: 2", "gpu_per_job: 2"))
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(p), "--executor", "slurm"])
    assert "unknown key 'executor.gpu_per_job'. Did you mean 'executor.gpus_per_job'?" in str(e.value)
    p.write_text(cluster_study(tmp_path).read_text().replace("{account: nlp-lab,", "{account: [a, b],"))
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(p), "--executor", "slurm"])
    assert "'executor.extra' flag 'account' must be one value" in str(e.value)


def test_several_gpus_launch_the_stage_under_torchrun(tmp_path):
    settings = load_params(cluster_study(tmp_path))["executor"]
    assert slurm_parameters(settings, "cl")["gpus_per_node"] == 2
    cmd = distributed_stage_command(2, "p.yaml", "2-target-x", "out", "/data")
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert cmd[5:] == ["-m", "intertask.cluster", "p.yaml", "2-target-x", "--outputs", "out", "--data", "/data"]


def test_tiny_study_through_the_local_executor_equals_the_serial_records(data_dir, tmp_path, monkeypatch):
    """params/tiny.yaml with 2 parallel local jobs gives the values of the committed serial run."""
    monkeypatch.setattr(cluster, "POLL", 0.5)  # the scheduler loop: 2 s per look would add ~10 s here
    monkeypatch.setenv("INTERTASK_WAIT_POLL", "0.5")  # the jobs' own waits (their processes read it)
    reference = ROOT / "outputs" / "tiny" / "results.csv"
    params_file = tmp_path / "tiny.yaml"
    params_file.write_text((ROOT / "params" / "tiny.yaml").read_text() + "executor: {max_parallel: 2}\n")
    outputs = tmp_path / "outputs"
    assert cli.main(["run", str(params_file), "--outputs", str(outputs), "--executor", "local", "--no-report"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(outputs / "tiny" / "results.csv"), pd.read_csv(reference))
    jobs = json.loads((outputs / "tiny" / "jobs.json").read_text())
    assert len(jobs) == 5 and {r["state"] for r in jobs.values()} == {"COMPLETED"}
    for stage in (outputs / "tiny" / "stages").iterdir():  # each stage ran once, inside its own job
        attempts = [json.loads(line) for line in (stage / "attempts.jsonl").read_text().splitlines()]
        assert [a["job"] for a in attempts] == [f"local:{jobs[stage.name]['job']}"]
    assert threads_used(outputs / "tiny") == ({expected_threads(2)} if not os.environ.get("OMP_NUM_THREADS") else
                                              {int(os.environ["OMP_NUM_THREADS"])})


def expected_threads(parallel_jobs: int) -> int:
    return max(1, len(os.sched_getaffinity(0)) // parallel_jobs)  # resources.job_threads, computed independently


def threads_used(study: Path) -> set[int]:
    """The torch thread counts the stage notebooks printed ("N CPU thread(s)")."""
    return {int(n) for nb in study.glob("stages/*/0*.ipynb") for n in re.findall(r"(\d+) CPU thread\(s\)", nb.read_text())}


def test_a_runner_and_a_local_job_set_never_run_one_stage_twice(tiny_model, data_dir, tmp_path):
    """The smallest study with a parent -> child dependency and two independent runs (4 stages, 1 language):
    the runner and the job set start at once, claim stages against each other and wait on each other's parents."""
    p = tmp_path / "shared.yaml"
    p.write_text(f"""
study: shared
model: {tiny_model}
data_source: local
seeds: [1, 2]
intermediate: {{none: []}}
targets: [xnli]
languages: [en]
budgets:
  intermediate: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  target: {{train_examples: 16, dev_examples: 8, epochs: 1, batch_size: 8}}
  eval: {{examples_per_language: 16, batch_size: 16}}
training: {{max_length: 64}}
executor: {{max_parallel: 2}}
""")
    outputs = tmp_path / "outputs"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lib'}:{os.environ.get('PYTHONPATH', '')}", "INTERTASK_WAIT_POLL": "0.5"}
    base = [sys.executable, "-m", "intertask.cli", "run", str(p), "--outputs", str(outputs), "--no-report"]
    procs = [subprocess.Popen(base + extra, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for extra in ([], ["--executor", "local"])]
    outs = [proc.communicate(timeout=600) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [o[1][-2000:] for o in outs]
    stages = [outputs / "shared" / "stages" / s.dirname for s in {s.dirname: s for r in expand(load_params(p))
                                                                    for s in r.stages}.values()]
    assert len(stages) == 4
    runs = {s.name: len((s / "attempts.jsonl").read_text().splitlines()) for s in stages}
    assert runs == {s.name: 1 for s in stages}
    assert (pd.read_csv(outputs / "shared" / "results.csv")["status"] == "done").all()


def test_status_with_a_corrupt_jobs_file_is_one_line_naming_it_and_the_fix(tmp_path, capsys):
    params_file = cluster_study(tmp_path)
    study = tmp_path / "outputs" / "cl"
    study.mkdir(parents=True)
    for text, line in (('{"1-intermediate-copa-x": {"job": "101",\n', 2), ("[1, 2]", None)):
        (study / "jobs.json").write_text(text)
        for command in (["status", str(params_file)], ["run", str(params_file), "--executor", "local"]):
            assert cli.main(command + ["--outputs", str(tmp_path / "outputs")]) == 2
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            where = f"{study / 'jobs.json'}:{line}:" if line else f"{study / 'jobs.json'}:"
            assert err.startswith(f"error: {where}") and "delete it and rerun" in err
