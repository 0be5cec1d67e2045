"""How many threads a stage's kernel may use: the cores its job was given, never more.

torch starts one thread per visible core; two stages running side by side on a 2-core machine then
run four threads on two cores and both slow down. The count comes from Slurm's `--cpus-per-task`
(`SLURM_CPUS_PER_TASK`), else the cores this process may run on divided by the number of jobs the
local executor runs in parallel (`INTERTASK_PARALLEL_JOBS`, default 1). An explicit
`OMP_NUM_THREADS` is respected. No torch here: the kernel's torch reads the variables at start.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Mapping

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
PARALLEL_JOBS = "INTERTASK_PARALLEL_JOBS"  # set by the local executor (cluster.py) for each job it starts


def visible_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def job_threads(environ: Mapping[str, str] | None = None, parallel_jobs: int | None = None) -> int:
    """Threads for one stage: Slurm's cpus-per-task, else visible cores / parallel jobs (at least 1)."""
    env = os.environ if environ is None else environ
    slurm = env.get("SLURM_CPUS_PER_TASK")
    if slurm:
        try:
            return max(1, int(slurm))
        except ValueError:
            raise ValueError(f"SLURM_CPUS_PER_TASK={slurm!r} is not a number of cores") from None
    jobs = parallel_jobs if parallel_jobs is not None else env.get(PARALLEL_JOBS, "1")
    try:
        jobs = int(jobs)
    except ValueError:
        raise ValueError(f"INTERTASK_PARALLEL_JOBS={jobs!r} must be a whole number of parallel jobs") from None
    return max(1, visible_cores() // max(1, jobs))


@contextlib.contextmanager
def kernel_threads(parallel_jobs: int | None = None) -> Iterator[int]:
    """Set the thread variables a kernel started inside inherits (unless the user set them); restore after."""
    if os.environ.get("OMP_NUM_THREADS"):
        yield int(os.environ["OMP_NUM_THREADS"])
        return
    n = job_threads(parallel_jobs=parallel_jobs)
    before = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(n) for k in THREAD_VARIABLES})
    try:
        yield n
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
