"""Stage claims: atomic, kept alive by a heartbeat, stale only by heartbeat, scheduler or a freed lock."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from intertask.claims import CLAIM, Claim, read_claim, stale_reason


def _fake_claim(folder: Path, host: str, pid: int, age: float = 0.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLAIM).write_text(json.dumps({"host": host, "pid": pid, "job": None, "started": "earlier"}))
    t = time.time() - age
    os.utime(folder / CLAIM, (t, t))


def test_a_claim_is_exclusive_and_released(tmp_path):
    a, b = Claim(tmp_path, timeout=30), Claim(tmp_path, timeout=30)
    assert a.acquire()
    assert not b.acquire()  # the same host and even the same process: the lock file decides
    info = read_claim(tmp_path)
    assert info.pid == os.getpid() and info.host == socket.gethostname()
    a.release()
    assert not (tmp_path / CLAIM).exists()
    assert b.acquire()
    b.release()


def test_heartbeat_keeps_a_long_claim_fresh(tmp_path):
    with Claim(tmp_path, timeout=0.4):
        time.sleep(1.2)  # three timeouts: only the heartbeat keeps it alive
        assert read_claim(tmp_path).heartbeat_age < 0.4
        assert stale_reason(tmp_path, timeout=0.4) is None


def test_claim_from_another_host_is_judged_by_its_heartbeat_not_its_hostname(tmp_path):
    _fake_claim(tmp_path, "gpu-node-17", 4_000_000)  # a PID that cannot exist here
    assert stale_reason(tmp_path, timeout=60) is None
    assert not Claim(tmp_path, timeout=60).acquire()
    _fake_claim(tmp_path, "gpu-node-17", 4_000_000, age=120)
    assert "no heartbeat for 120 s" in stale_reason(tmp_path, timeout=60)
    c = Claim(tmp_path, timeout=60)
    assert c.acquire()  # a stale claim is broken and taken over
    c.release()


def test_claim_of_a_killed_process_on_this_host_is_stale_at_once(tmp_path):
    code = (f"import time, pathlib; from intertask.claims import Claim; "
            f"c = Claim(pathlib.Path({str(tmp_path)!r}), timeout=600); assert c.acquire(); print('held', flush=True); "
            f"time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    assert stale_reason(tmp_path, timeout=600) is None  # alive: its lock is held
    assert not Claim(tmp_path, timeout=600).acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "ended without releasing it" in stale_reason(tmp_path, timeout=600)
    c = Claim(tmp_path, timeout=600)
    assert c.acquire()
    c.release()


def _race(folder: str, start: float, q) -> None:
    while time.time() < start:
        time.sleep(0.001)
    c = Claim(Path(folder), timeout=60)
    won = c.acquire()
    q.put(won)
    time.sleep(1.0)  # hold it while the others try
    if won:
        c.release()


def test_many_runners_breaking_one_stale_claim_give_one_winner(tmp_path):
    _fake_claim(tmp_path, "gone-node", 4_000_000, age=3600)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start = time.time() + 0.5
    procs = [ctx.Process(target=_race, args=(str(tmp_path), start, q)) for _ in range(6)]
    for p in procs:
        p.start()
    results = [q.get(timeout=30) for _ in procs]
    for p in procs:
        p.join()
    assert sorted(results) == [False] * 5 + [True]


def test_a_claim_whose_job_the_scheduler_reports_gone_is_stale(tmp_path, monkeypatch):
    """A fake `squeue` on PATH: the job's state decides, not the (fresh) heartbeat or the hostname."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    squeue = bin_dir / "squeue"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    folder = tmp_path / "stage"
    folder.mkdir()
    (folder / CLAIM).write_text(json.dumps({"host": "gpu-node-3", "pid": 77, "job": "4242", "started": "now"}))
    squeue.write_text("#!/bin/sh\necho RUNNING\n")
    squeue.chmod(0o755)
    assert stale_reason(folder, timeout=600) is None
    squeue.write_text("#!/bin/sh\nexit 0\n")  # squeue lists nothing: the job has ended
    assert stale_reason(folder, timeout=600) == "the scheduler reports job 4242 finished"
    squeue.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1\n")
    assert stale_reason(folder, timeout=600) is None  # an unreachable scheduler is not evidence of death


def test_a_claim_records_the_slurm_job(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "991")
    with Claim(tmp_path, timeout=30):
        assert read_claim(tmp_path).job == "991"
        assert "job 991" in read_claim(tmp_path).describe()


def test_a_claim_inside_a_local_job_records_it_and_never_asks_squeue(tmp_path, monkeypatch):
    """submitit's local executor: the job id is a local process id, which squeue must not judge."""
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("SUBMITIT_LOCAL_JOB_ID", "4321")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text("#!/bin/sh\nexit 0\n")  # lists nothing: would mean 'finished' for Slurm
    (bin_dir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with Claim(tmp_path / "stage", timeout=30):
        assert read_claim(tmp_path / "stage").job == "local:4321"
        assert stale_reason(tmp_path / "stage", timeout=30) is None
