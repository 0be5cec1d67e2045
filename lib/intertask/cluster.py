"""Running a study's stages as jobs through submitit: Slurm jobs on a cluster, local processes here.

One job = one stage. A job runs `run.execute_stage`, the serial runner's own code path, so claims,
manifests, records and results are the same whichever way a stage ran. On Slurm every pending stage is
submitted at once, each with `--dependency=afterok:<job of its parent stage>`; independent runs proceed
in parallel, and `intertask run` returns after submitting. With `--executor local` the same jobs run as
processes through submitit's LocalExecutor, and `intertask run` waits for them. A job fails (non-zero
exit) when its stage fails, so Slurm never starts the stages that needed it; rerunning the command
submits exactly the stages that are not done and have no queued or running job (`jobs.py` keeps the
link from stage to job). Jobs need only the shared filesystem, the data folder and the same Python.
No torch here: the orchestrator runs on a login node.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit

from .claims import CLAIM, job_id, read_claim
from .jobs import ACTIVE, current_states, new_record, read_jobs, record_jobs
from .kernels import TiedKernelManager
from .resources import PARALLEL_JOBS
from .run import (Summary, UsageError, _write_json, apply_keep_checkpoints, check_writable, collect_results,
                  execute_stage, injected_parameters, notebooks_dir, read_stage_record, reopen_needed_checkpoints,
                  run_state, select_runs, stage_folder, stage_state, write_conditions, write_plan)
from .study import Run, Stage, expand, load_params, study_dir

EXECUTORS = ("serial", "local", "slurm")
JOB_FOLDER = "jobs"  # <study>/jobs/: submitit's job files and logs (%j = job id)
POLL = float(os.environ.get("INTERTASK_WAIT_POLL", "2"))  # seconds between looks at jobs and stages


class StageFailed(RuntimeError):
    """Raised by a job whose stage did not finish: the job fails, so Slurm does not start its dependants."""


def ordered_stages(runs: list[Run]) -> list[Stage]:
    """Every distinct stage of `runs`, parents before children (runs share stages by hash)."""
    seen: dict[str, Stage] = {}
    for kind in ("intermediate", "target", "evaluate"):
        for run in runs:
            for stage in run.stages:
                if stage.kind == kind:
                    seen.setdefault(stage.dirname, stage)
    return list(seen.values())


def find_stage(params: dict, dirname: str) -> Stage:
    for stage in ordered_stages(expand(params)):
        if stage.dirname == dirname:
            return stage
    raise UsageError(f"{params.get('_path', 'the study file')}: no stage {dirname} in this study any more; "
                     f"the study file changed after the job was submitted: rerun `intertask run`")


# ---------------------------------------------------------------------------------------------
# inside a job


def _release_own_dead_claim(folder: Path) -> None:
    """A requeued Slurm job keeps its job id: a claim with our id but another process is our own past
    life (Slurm runs one instance of a job at a time), so it is dead and may go without waiting."""
    info, me = read_claim(folder), job_id()
    if info and me and info.job == me and info.pid != os.getpid():
        (folder / CLAIM).unlink(missing_ok=True)


def run_stage_waiting(stage: Stage, root: Path, data_dir: str | None, full: bool = False) -> str:
    """Execute one stage unless it is done; wait while another runner holds it or its parent.

    Returns done | failed | a reason it could not start (its input stage is not done).
    """
    folder = stage_folder(root, stage)
    _release_own_dead_claim(folder)
    if stage.parent is not None:
        parent = stage_folder(root, stage.parent)
        while (state := stage_state(parent, full)[0]) == "running":
            time.sleep(POLL)  # a runner outside this job set holds the parent: no Slurm dependency covers it
        if state != "done":
            return f"its input stage {stage.parent.dirname} is {state}"
    seen_busy = False
    while True:
        if seen_busy and stage_state(folder, full)[0] == "failed":
            return "failed"  # the runner we waited for failed it just now: do not repeat the failure
        state = execute_stage(stage, root, data_dir, full=full)
        if state != "busy":
            return state
        seen_busy = True
        time.sleep(POLL)


def finish_tables(params: dict, root: Path, stage: Stage, full: bool = False) -> None:
    """What the serial runner does after each run: study tables and the checkpoint policy."""
    every = expand(params)
    if stage.kind == "evaluate":
        collect_results(root, every, full)
    if stage.kind == "intermediate":
        write_conditions(params, every, root)
    apply_keep_checkpoints(params, root)


class StageJob(submitit.helpers.Checkpointable):
    """The function one job runs. Checkpointable: Slurm requeues it when preempted or out of time; the
    claim it left is its own and is released at once, and the stage runs again (resuming from its last
    saved training state where training saves one)."""

    def __call__(self, params: dict, dirname: str, outputs: str, data_dir: str | None, full: bool = False,
                 parallel_jobs: int | None = None, gpus: int = 1) -> str:
        if parallel_jobs:
            os.environ[PARALLEL_JOBS] = str(parallel_jobs)  # resources.job_threads: cores / parallel jobs
        root = study_dir(params, outputs)
        stage = find_stage(params, dirname)
        if gpus > 1:
            cmd = distributed_stage_command(gpus, params["_path"], dirname, outputs, data_dir, full)
            launch = subprocess.Popen(cmd)
            state = "done" if launch.wait() == 0 else "failed"
            _rank0_marker(dirname, launch.pid).unlink(missing_ok=True)  # the launch is over: no rank reads it
        else:
            state = run_stage_waiting(stage, root, data_dir, full)
        finish_tables(params, root, stage, full)
        if state != "done":
            folder = stage_folder(root, stage)
            error = (read_stage_record(folder) or {}).get("error", "")
            raise StageFailed(f"{dirname}: {state}" + (f": {error}" if error else "") +
                              f" (record: {folder / stage.notebook})")
        return state


# ---------------------------------------------------------------------------------------------
# several GPUs for one stage


def distributed_stage_command(gpus: int, params_path: str, dirname: str, outputs: str, data_dir: str | None,
                              full: bool = False) -> list[str]:
    """The command that runs one stage on `gpus` GPUs of one node: torchrun starts one process per GPU,
    each executes `python -m intertask.cluster` (below). Rank 0 claims and records the stage as the
    serial runner does; the other ranks execute the same notebook as followers (the training code makes
    itself data-parallel from torchrun's RANK/WORLD_SIZE and lets only the main process write)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
           "-m", "intertask.cluster", params_path, dirname, "--outputs", str(outputs)]
    return cmd + (["--data", data_dir] if data_dir else []) + (["--check"] if full else [])


def _rank0_marker(dirname: str, launcher: int | None = None) -> Path:
    # torchrun's agent is every rank's parent: its pid names this launch on this node
    return Path(tempfile.gettempdir()) / f"intertask-rank0-{launcher or os.getppid()}-{dirname}"


def _rank0_started(folder: Path) -> bool:
    """True once a sibling rank (same torchrun parent) holds the stage and is running its notebook."""
    record = read_stage_record(folder) or {}
    if record.get("status") != "running":
        return False
    try:
        stat = Path(f"/proc/{int(record.get('pid', 0))}/stat").read_text()
    except (OSError, ValueError):
        return False
    return int(stat.rsplit(")", 1)[1].split()[1]) == os.getppid()


def follow_stage(stage: Stage, root: Path, data_dir: str | None, rank: int) -> int:
    """A rank > 0: run the stage's notebook alongside rank 0, writing its own notebook copy elsewhere."""
    import papermill as pm

    folder, marker = stage_folder(root, stage), _rank0_marker(stage.dirname)
    while not _rank0_started(folder):
        if marker.exists():
            return 0  # rank 0 ended without running the notebook (done already, or failed before it)
        time.sleep(0.5)
    out = Path(tempfile.mkdtemp(prefix=f"intertask-rank{rank}-")) / stage.notebook
    pm.execute_notebook(str(notebooks_dir() / stage.notebook), str(out), parameters=injected_parameters(stage, data_dir),
                        cwd=str(folder), progress_bar=False, log_output=False, kernel_manager_class=TiedKernelManager)
    shutil.rmtree(out.parent, ignore_errors=True)  # kept only when the notebook failed: it shows where
    return 0


def rank_main(argv: list[str] | None = None) -> int:
    """Entry point of one torchrun process: `python -m intertask.cluster PARAMS STAGE --outputs DIR`."""
    ap = argparse.ArgumentParser(prog="python -m intertask.cluster")
    ap.add_argument("params")
    ap.add_argument("stage")
    ap.add_argument("--outputs", default="outputs")
    ap.add_argument("--data")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    stage, root = find_stage(params, args.stage), study_dir(params, args.outputs)
    rank = int(os.environ.get("RANK", "0"))
    if rank > 0:
        return follow_stage(stage, root, args.data, rank)
    try:
        state = run_stage_waiting(stage, root, args.data, args.check)
    finally:
        _rank0_marker(stage.dirname).touch()
    return 0 if state == "done" else 1


# ---------------------------------------------------------------------------------------------
# submitting


def _mem(gb: float) -> str:
    return f"{int(gb)}G" if float(gb).is_integer() else f"{int(gb * 1024)}M"


def slurm_parameters(settings: dict, study: str) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters from the study's `executor:` section (schema.Executor)."""
    p: dict[str, Any] = {"job_name": study, "time": int(settings["time_min"]), "nodes": 1, "ntasks_per_node": 1,
                         "cpus_per_task": int(settings["cpus_per_job"]), "mem": _mem(settings["mem_gb"]),
                         "additional_parameters": dict(settings.get("extra") or {})}
    if settings.get("partition"):
        p["partition"] = settings["partition"]
    if settings["gpus_per_job"]:
        p["gpus_per_node"] = int(settings["gpus_per_job"])
    return p


def _dependency(parent_job: str | None, slot: str | None) -> str | None:
    # `singleton` lets one job per name run at a time: max_parallel names (slots) cap the study's jobs
    parts = ([f"afterok:{parent_job}"] if parent_job else []) + (["singleton"] if slot else [])
    return ",".join(parts) or None


@dataclass
class Submission:
    submitted: dict[str, str] = field(default_factory=dict)  # stage -> new job id
    kept: dict[str, str] = field(default_factory=dict)  # stage -> its queued/running job, left alone
    cancelled: dict[str, str] = field(default_factory=dict)  # stage -> old job replaced (its parent was resubmitted)
    done: int = 0
    root: Path = Path(".")

    def text(self) -> str:
        lines = [f"{len(self.submitted)} job(s) submitted, {len(self.kept)} still queued or running, "
                 f"{self.done} stage(s) already done"]
        lines += [f"  {job}  {stage}" for stage, job in self.submitted.items()]
        lines += [f"  cancelled {job} (replaced): {stage}" for stage, job in self.cancelled.items()]
        lines.append(f"logs: {self.root / JOB_FOLDER}; watch with `intertask status` or `squeue --me`; "
                     f"run the same command again to resubmit failed or interrupted stages")
        return "\n".join(lines)


def _prepare(params: dict, outputs: str | Path, only: list[str] | None) -> tuple[Path, list[Run]]:
    root = study_dir(params, outputs)
    every = expand(params)
    runs = select_runs(every, only)
    check_writable(root)
    write_plan(params, every, root)
    for run in runs:
        reopen_needed_checkpoints(root, run)
    return root, runs


def submit_slurm(params: dict, outputs: str | Path = "outputs", data_dir: str | None = None,
                 only: list[str] | None = None, full: bool = False) -> Submission:
    """Submit every stage that is not done and has no live job, with afterok dependencies on parents."""
    root, runs = _prepare(params, outputs, only)
    settings = params["executor"]
    executor = submitit.SlurmExecutor(folder=root / JOB_FOLDER)
    executor.update_parameters(**slurm_parameters(settings, params["study"]))
    records = read_jobs(root)
    states = current_states(root, records)
    sub = Submission(root=root)
    wait_for: dict[str, str | None] = {}  # stage -> the job its children must wait for (None: nothing)
    for i, stage in enumerate(ordered_stages(runs)):
        name = stage.dirname
        state = stage_state(stage_folder(root, stage), full)[0]
        if state == "done":
            sub.done += 1
            continue
        record = records.get(name)
        live = record is not None and record.get("executor") == "slurm" and states.get(name) in ACTIVE
        parent_new = stage.parent is not None and stage.parent.dirname in sub.submitted
        if live and not parent_new:
            sub.kept[name] = wait_for[name] = record["job"]
            continue
        if state == "running":  # another runner (not a job of ours) holds it: the job of a child waits for it
            wait_for[name] = None
            continue
        if live:  # queued behind a parent that failed and is resubmitted now: it would never start
            submitit.SlurmJob(folder=root / JOB_FOLDER, job_id=record["job"]).cancel(check=False)
            sub.cancelled[name] = record["job"]
        slot = f"{params['study']}-{i % settings['max_parallel']}" if settings.get("max_parallel") else None
        executor.update_parameters(dependency=_dependency(wait_for.get(stage.parent.dirname) if stage.parent else None,
                                                          slot),
                                   job_name=slot or f"{params['study']}:{name}")
        job = executor.submit(StageJob(), params, name, str(outputs), data_dir, full, None, int(settings["gpus_per_job"]))
        sub.submitted[name] = wait_for[name] = job.job_id
        record_jobs(root, {name: new_record(job.job_id, "slurm", "PENDING")})
    return sub


def run_local(params: dict, outputs: str | Path = "outputs", data_dir: str | None = None,
              only: list[str] | None = None, full: bool = False) -> Summary:
    """Run the study's pending stages as local processes (submitit's LocalExecutor), max_parallel at once."""
    root, runs = _prepare(params, outputs, only)
    settings = params["executor"]
    parallel = int(settings.get("max_parallel") or 1)
    executor = submitit.LocalExecutor(folder=root / JOB_FOLDER)
    executor.update_parameters(timeout_min=int(settings["time_min"]))
    stages = ordered_stages(runs)
    summary, start = Summary(), time.time()
    active: dict[str, Any] = {}
    tried: set[str] = set()
    # submitit's local executor has no dependencies: this loop is the scheduler. A stage is submitted once
    # its parent is done, at most max_parallel jobs run at once, and a stage is tried once per command.
    try:
        while True:
            waiting = False
            for stage in stages:
                name, folder = stage.dirname, stage_folder(root, stage)
                if len(active) >= parallel:
                    break
                if name in tried or stage_state(folder, full)[0] == "done":
                    continue
                if stage.parent is not None:
                    pstate = stage_state(stage_folder(root, stage.parent), full)[0]
                    waiting |= pstate == "running" or stage.parent.dirname in active
                    if pstate != "done":
                        continue
                job = executor.submit(StageJob(), params, name, str(outputs), data_dir, full, parallel, 1)
                active[name] = job
                tried.add(name)
                record_jobs(root, {name: new_record(job.job_id, "local", "RUNNING")})
            if not active and not waiting:
                break
            time.sleep(POLL)
            for name, job in list(active.items()):
                if job.done():
                    state = "COMPLETED" if job.exception() is None else "FAILED"
                    record_jobs(root, {name: {"state": state}})
                    del active[name]
    except KeyboardInterrupt:
        for name, job in active.items():
            job.cancel(check=False)
            record_jobs(root, {name: {"state": "CANCELLED"}})
        raise
    every = expand(params)
    for run in runs:
        state, why = run_state(root, run, full)
        if state == "done":
            summary.done.append(run.id)
        else:
            summary.failed[run.id] = why
    apply_keep_checkpoints(params, root)
    write_conditions(params, every, root)
    summary.seconds = time.time() - start
    _, summary.missing = collect_results(root, every, full)
    _write_json(root / "last_run.json", {"done": summary.done, "failed": summary.failed, "executor": "local",
                                         "missing": summary.missing, "seconds": round(summary.seconds, 1)})
    return summary


if __name__ == "__main__":
    sys.exit(rank_main())
