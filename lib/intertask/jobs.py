"""The jobs file of a study: which scheduler job was submitted for which stage, and what became of it.

`<study>/jobs.json` maps a stage folder name to the last job submitted for it:
{"job": id, "executor": "slurm" | "local", "submitted": time, "state": the last state recorded}.
`intertask run --executor ...` writes it; a rerun reads it so a stage whose job is still queued or
running is not submitted twice; `intertask status` shows it. Slurm states come from submitit's sacct
watcher (one sacct call for all jobs); a local job's state is the one its runner recorded, or ENDED
when the runner is gone. No torch and no run.py here: run.status_table imports this module.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
from pathlib import Path

JOBS = "jobs.json"
# Slurm states of a job that may still run the stage (sacct's words); anything else has ended
ACTIVE = frozenset({"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
                    "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT"})


class JobsFileError(ValueError):
    """The jobs file cannot be read: the CLI prints it as one line naming the file and the fix."""


def read_jobs(root: Path) -> dict[str, dict]:
    """{stage folder name: job record}; empty when nothing was ever submitted."""
    try:
        jobs = json.loads((Path(root) / JOBS).read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        bad_json = isinstance(e, json.JSONDecodeError)
        where = f"{Path(root) / JOBS}:{e.lineno}" if bad_json else str(Path(root) / JOBS)
        raise JobsFileError(f"{where}: not valid JSON ({e.msg if bad_json else e.reason}); delete it and rerun: stage "
                            f"folders keep their own state and claims stop a stage running twice; only the link "
                            f"to jobs still queued is lost (see them with `squeue --me`)") from None
    if not isinstance(jobs, dict) or not all(isinstance(r, dict) and "job" in r for r in jobs.values()):
        raise JobsFileError(f"{Path(root) / JOBS}: not a jobs file (expected {{stage: {{\"job\": id, ...}}}}); "
                            f"delete it and rerun: stage folders keep their own state")
    return jobs


def record_jobs(root: Path, changes: dict[str, dict]) -> None:
    """Merge `changes` into the jobs file atomically (several runners and jobs may write at once)."""
    root = Path(root)
    with open(root / "jobs.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jobs = read_jobs(root)
        for stage, change in changes.items():
            jobs[stage] = {**jobs.get(stage, {}), **change}
        tmp = root / f"{JOBS}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(jobs, indent=2, sort_keys=True))
        os.replace(tmp, root / JOBS)


def new_record(job: str, executor: str, state: str) -> dict:
    return {"job": job, "executor": executor, "state": state,
            "submitted": dt.datetime.now().isoformat(timespec="seconds")}


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """Slurm's state of each job (one sacct call through submitit's watcher); UNKNOWN without sacct."""
    if not job_ids:
        return {}
    if not shutil.which("sacct"):
        return {j: "UNKNOWN" for j in job_ids}
    from submitit.slurm.slurm import SlurmInfoWatcher  # lazy: submitit is only needed once jobs exist

    watcher = SlurmInfoWatcher(delay_s=0)
    for j in job_ids:
        watcher.register_job(str(j))
    watcher.update()
    # sacct writes "CANCELLED by 1234": the first word is the state
    return {j: (watcher.get_state(str(j), mode="cache").split() or ["UNKNOWN"])[0] for j in job_ids}


def _local_state(record: dict) -> str:
    state = record.get("state", "UNKNOWN")
    if state != "RUNNING":
        return state
    try:
        os.kill(int(record["job"]), 0)  # a local job id is its process id on this machine
    except (ProcessLookupError, ValueError):
        return "ENDED"
    except PermissionError:
        pass
    return state


def current_states(root: Path, records: dict[str, dict] | None = None) -> dict[str, str]:
    """{stage folder name: the state of its last job now}."""
    records = read_jobs(root) if records is None else records
    slurm = slurm_states(sorted({r["job"] for r in records.values() if r.get("executor") == "slurm"}))
    return {stage: slurm.get(r["job"], "UNKNOWN") if r.get("executor") == "slurm" else _local_state(r)
            for stage, r in records.items()}


def job_labels(root: Path) -> dict[str, str]:
    """{stage folder name: '<job id> <STATE>'} for every stage a job was submitted for."""
    records = read_jobs(root)
    states = current_states(root, records)
    return {stage: f"{r['job']} {states[stage]}" for stage, r in records.items()}


def run_job_label(labels: dict[str, str], stages: list[str], states: list[str]) -> str:
    """The job to show for one run: that of its first unfinished stage with a job, else of its last job."""
    for name, state in zip(stages, states):
        if state != "done" and name in labels:
            return labels[name]
    return next((labels[n] for n in reversed(stages) if n in labels), "-")
