"""Which precision a stage computes in: `auto` is bf16 where the hardware has it, fp32 elsewhere.

bf16 autocast halves the cost of the encoder's matrix products on GPUs and on CPUs with AVX512-BF16
or AMX (measured on this project's CPU: a 384->1536 linear layer 2.1x faster); on other CPUs bf16 is
emulated and slower than fp32, hence the detection. Training (through accelerate) and evaluation
(`autocast` below) use the same setting, and each stage prints what it resolved to.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ContextManager

import torch

PRECISIONS = ("auto", "no", "bf16", "fp16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo does not exist."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    return any(f in cpu_flags(cpuinfo) for f in CPU_BF16_FLAGS)


def resolve_precision(setting: str, device: str | None = None, cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """`no`, `bf16` or `fp16` for `setting` on `device` (default: cuda if available, else cpu)."""
    if setting not in PRECISIONS:
        raise ValueError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, got {setting!r}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if setting != "auto":
        if setting == "fp16" and device == "cpu":
            raise ValueError("mixed_precision fp16 needs a GPU; on CPU use bf16 (or auto, or no)")
        return setting
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16(cpuinfo) else "no"


def describe(setting: str, resolved: str) -> str:
    """One line for the record: what the stage computes in, and why."""
    names = {"no": "fp32", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}
    why = "" if setting == resolved else f" (auto: {'GPU' if torch.cuda.is_available() else _cpu_reason()})"
    return f"precision: {names[resolved]}{why}"


def _cpu_reason() -> str:
    flags = sorted(set(CPU_BF16_FLAGS) & cpu_flags())
    return f"CPU has {', '.join(flags)}" if flags else "CPU without AVX512-BF16 or AMX"


def autocast(resolved: str, device: Any = "cpu") -> ContextManager:
    """The autocast context of a resolved precision; fp32 needs none."""
    if resolved == "no":
        return contextlib.nullcontext()
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16 if resolved == "bf16" else torch.float16)
