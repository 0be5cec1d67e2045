"""Where and how a study ran: recorded by the runner in each stage's params.json, read back by 04_report.

The runner records `environment()` (package versions, hardware) beside the code version when it
starts a stage; the report gathers every stage record of a study into one `Provenance`: when the
study ran, on which commit(s), with which packages and hardware, and how much compute it took.
No torch here: versions come from package metadata, the GPU from `nvidia-smi`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

# the packages whose versions change numbers: the model stack and the data/statistics stack
PACKAGES = ("torch", "transformers", "accelerate", "datasets", "numpy", "pandas", "scipy", "statsmodels")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def gpu_names() -> list[str]:
    """The GPUs `nvidia-smi` lists (name, memory), or [] where there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def environment() -> dict:
    """The software and hardware a stage runs on (recorded in its params.json by the runner)."""
    versions = {name: v for name in PACKAGES if (v := _version(name)) is not None}
    return {"python": platform.python_version(), "packages": versions,
            "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
            "cpus": os.cpu_count(), "gpus": gpu_names()}


@dataclass
class Provenance:
    """What a study's stage records say about its execution (None / empty where nothing was recorded)."""

    stages: int = 0
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    seconds: float = 0.0                               # total over stages: the compute the study took
    seconds_by_kind: dict[str, float] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # intertask package versions
    packages: dict[str, list[str]] = field(default_factory=dict)
    hardware: list[str] = field(default_factory=list)
    unrecorded: int = 0                                 # stages written before the environment was recorded


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _hardware(env: dict) -> str:
    gpus = ", ".join(env.get("gpus") or []) or "no GPU"
    return f"{env.get('platform', '?')}, {env.get('cpus', '?')} CPUs, {gpus}"


def study_provenance(root: str | Path) -> Provenance:
    """Gathers every finished stage record under `root/stages`."""
    prov = Provenance()
    for folder in sorted(Path(root).glob("stages/*/")):
        status, params = _read_json(folder / "status.json"), _read_json(folder / "params.json")
        if status.get("status") != "done":
            continue
        prov.stages += 1
        seconds = float(status.get("seconds", 0.0))
        prov.seconds += seconds
        kind = params.get("stage", "?")
        prov.seconds_by_kind[kind] = prov.seconds_by_kind.get(kind, 0.0) + seconds
        if "finished" in status:
            end = dt.datetime.fromisoformat(status["finished"])
            start = end - dt.timedelta(seconds=seconds)
            prov.started = min(prov.started or start, start)
            prov.finished = max(prov.finished or end, end)
        code = params.get("code", {})
        for value, seen in ((code.get("git"), prov.commits), (code.get("intertask"), prov.versions)):
            if value and value not in seen:
                seen.append(value)
        env = params.get("environment")
        if not env:
            prov.unrecorded += 1
            continue
        for name, version in env.get("packages", {}).items():
            if version not in prov.packages.setdefault(name, []):
                prov.packages[name].append(version)
        if (hw := _hardware(env)) not in prov.hardware:
            prov.hardware.append(hw)
        if (py := env.get("python")) and py not in prov.packages.setdefault("python", []):
            prov.packages["python"].append(py)
    return prov


def duration(seconds: float) -> str:
    """'1 h 02 min', '3 min 20 s', '12 s'."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"
