"""One claim per stage: an atomic lock file kept alive by a heartbeat, shared by any number of runners.

A runner claims a stage by creating `<stage>/claim` with O_CREAT|O_EXCL (atomic on local disks and on
NFSv3+), writing its host, PID and job id into it, and holding `flock` on it while the stage runs.
A thread touches the file every `interval` seconds: its mtime is the heartbeat.

A claim is stale, and may be broken, only when
- its heartbeat is older than the timeout (the claimant froze, or its node vanished), or
- the scheduler reports its job finished (Slurm: `squeue` no longer lists it), or
- it was made on this very host and its flock is free: the kernel drops a lock when its holder dies,
  so a local kill -9 is seen at once instead of after the timeout. A claim from another host is
  never judged by its hostname: its heartbeat decides (flock is not coherent on every shared FS).
Breaking is serialised by a second lock, so two runners never both take over one stale claim.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CLAIM = "claim"
ENV_TIMEOUT = "INTERTASK_CLAIM_TIMEOUT"
DEFAULT_TIMEOUT = 120.0  # seconds without a heartbeat before a claim is presumed dead


def claim_timeout() -> float:
    return float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT))


LOCAL_JOB = "local:"  # prefix of a job id from submitit's local executor (not a Slurm id: never ask squeue)


def job_id() -> str | None:
    """The scheduler's job id of this process (Slurm array tasks included), or `local:<id>` for a job of
    submitit's local executor, if any."""
    job = os.environ.get("SLURM_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    if job and task and os.environ.get("SLURM_ARRAY_JOB_ID"):
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{task}"
    if job is None and os.environ.get("SUBMITIT_LOCAL_JOB_ID"):
        return LOCAL_JOB + os.environ["SUBMITIT_LOCAL_JOB_ID"]
    return job


@dataclass
class ClaimInfo:
    host: str
    pid: int
    job: str | None
    started: str
    heartbeat_age: float  # seconds since the last heartbeat

    def describe(self) -> str:
        job = f", job {self.job}" if self.job else ""
        return f"claimed by {self.host} pid {self.pid}{job}, heartbeat {self.heartbeat_age:.0f} s ago"


def read_claim(folder: Path) -> ClaimInfo | None:
    path = folder / CLAIM
    try:
        age = time.time() - path.stat().st_mtime
        data = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        data = {}  # created but not yet written: the O_EXCL create is the claim
    return ClaimInfo(str(data.get("host", "?")), int(data.get("pid", 0)), data.get("job"),
                     str(data.get("started", "")), max(age, 0.0))


def _job_finished(job: str) -> bool:
    """True only when the scheduler positively says the job is gone; unknown counts as alive."""
    if not shutil.which("squeue"):
        return False
    try:
        out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    state = out.stdout.strip()
    return out.returncode == 0 and state == "" or "Invalid job id" in out.stderr


def _lock_is_free(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return False  # no lock support here: fall back to the heartbeat alone
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def stale_reason(folder: Path, timeout: float | None = None) -> str | None:
    """Why the stage's claim is dead (None: it is alive, or there is no claim)."""
    info = read_claim(folder)
    if info is None:
        return None
    timeout = claim_timeout() if timeout is None else timeout
    if info.heartbeat_age > timeout:
        return f"no heartbeat for {info.heartbeat_age:.0f} s (timeout {timeout:.0f} s)"
    if info.job and not info.job.startswith(LOCAL_JOB) and _job_finished(info.job):
        return f"the scheduler reports job {info.job} finished"
    if info.host == socket.gethostname() and info.pid and _lock_is_free(folder / CLAIM):
        return f"its process {info.pid} on this host ended without releasing it"
    return None


class Claim:
    """An exclusive, heartbeat-kept claim on one stage folder; use as a context manager or acquire/release."""

    def __init__(self, folder: Path, timeout: float | None = None):
        self.folder = Path(folder)
        self.path = self.folder / CLAIM
        self.timeout = claim_timeout() if timeout is None else timeout
        self.interval = max(self.timeout / 4, 0.05)
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the claim; False when a live claimant holds it. Breaks a stale claim (once, under a lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._create():
            return True
        with open(self.folder / "claim.break", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)  # serialise breakers; re-check under the lock
            if stale_reason(self.folder, self.timeout) is None and self.path.exists():
                return False
            self.path.unlink(missing_ok=True)
            return self._create()

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = {"host": socket.gethostname(), "pid": os.getpid(), "job": job_id(),
                "started": dt.datetime.now().isoformat(timespec="seconds")}
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat {self.folder.name}")
        self._thread.start()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return  # broken by another runner after a freeze longer than the timeout

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._fd is not None:
            # only remove the file if it is still ours (same inode as the one we hold)
            try:
                if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                    self.path.unlink()
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "Claim":
        if not self.acquire():
            raise RuntimeError(f"{self.folder}: {read_claim(self.folder).describe() if read_claim(self.folder) else 'claimed'}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
