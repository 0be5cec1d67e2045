"""Progress bars that keep a notebook's record clean and still show in the runner's terminal.

A papermill kernel's stderr is captured into the executed notebook, where every redraw of a bar would
stay as a line of pink noise. So when the study runner executes a stage (it sets INTERTASK_STATUS_FILE)
the bars write to `progress.log` beside the notebook instead, one plain line per refresh; the notebook
keeps one final line per outermost loop; and the outermost bar's state is mirrored, as JSON, to the
status file, from which the runner draws its second (stage) bar with an ETA.
Outside the runner (a terminal, JupyterLab) the bars behave as tqdm's usual text bars.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, TypeVar

from tqdm.std import TqdmWarning, tqdm

T = TypeVar("T")
ENV_STATUS = "INTERTASK_STATUS_FILE"
LOG_NAME = "progress.log"

# libraries import tqdm.auto, which warns once per kernel that ipywidgets is missing; our bars are
# text bars on purpose (a widget cannot be stored in a record), so that warning says nothing useful
warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LineLog:
    """A file tqdm can draw on that keeps each refresh as one plain line (no carriage returns or
    cursor moves), so `progress.log` reads top to bottom."""

    def __init__(self, path: str | os.PathLike):
        self._f: IO[str] = open(path, "a", encoding="utf-8")
        self._pending = ""

    def write(self, s: str) -> int:
        text = self._pending + _ESCAPES.sub("", s)
        *lines, self._pending = re.split(r"[\r\n]", text)
        for line in lines:
            if line.strip():
                self._f.write(line.rstrip() + "\n")
        return len(s)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if self._pending.strip():
            self._f.write(self._pending.rstrip() + "\n")
        self._pending = ""
        self._f.close()


@dataclass
class Status:
    """The kernel's outermost loop, as the runner reads it from the status file."""

    desc: str
    n: int
    total: int | None
    elapsed: float
    postfix: str = ""

    def line(self) -> str:
        total = f"/{self.total}" if self.total else ""
        return f"{self.desc} {self.n}{total}" + (f" {self.postfix}" if self.postfix else "")


class progress(tqdm):
    """tqdm that, under the runner, draws into progress.log and mirrors its state to the status file."""

    _depth = 0  # open bars in this process: only the outermost one speaks to the record and the runner

    def __init__(self, iterable: Iterable | None = None, desc: str = "", total: int | None = None, **kw):
        self._status_path = os.environ.get(ENV_STATUS)
        self._log: LineLog | None = None
        if self._status_path:
            self._log = LineLog(Path(self._status_path).with_name(LOG_NAME))
            kw["file"] = self._log
            kw.setdefault("mininterval", 5.0)
            kw.setdefault("ncols", 100)
        else:
            kw.setdefault("mininterval", 2.0 if sys.stderr.isatty() else 15.0)
            kw.setdefault("file", sys.stderr)
            kw.setdefault("dynamic_ncols", True)
        self._outermost = progress._depth == 0
        progress._depth += 1
        self._last_status = 0.0
        self._closed = False
        super().__init__(iterable, desc=desc, total=total, **kw)

    def status(self) -> Status:
        return Status(self.desc.rstrip(": "), int(self.n), int(self.total) if self.total else None,
                      round(self.format_dict["elapsed"], 1), str(self.postfix or ""))

    def _mirror(self, force: bool = False) -> None:
        if not self._status_path or not self._outermost:
            return
        now = time.monotonic()
        if not force and now - self._last_status < 1.0:
            return
        self._last_status = now
        try:
            tmp = f"{self._status_path}.tmp"
            with open(tmp, "w") as f:
                json.dump(self.status().__dict__, f)
            os.replace(tmp, self._status_path)  # the runner never reads half a line
        except OSError:
            pass  # progress is a courtesy; never fail a run over it

    def update(self, n: float = 1) -> bool | None:
        out = super().update(n)
        self._mirror()
        return out

    def __iter__(self) -> Iterator:
        # tqdm's iterator bypasses update(), so mirror here (throttled inside _mirror)
        for x in super().__iter__():
            self._mirror()
            yield x

    def close(self) -> None:
        if self._closed:  # tqdm closes again from __del__
            return super().close()
        self._closed = True
        progress._depth = max(0, progress._depth - 1)
        self._mirror(force=True)
        final = self._log is not None and self._outermost and not self.disable
        line = self.format_meter(**{**self.format_dict, "ncols": None,
                                    "bar_format": "{desc}: {n_fmt}/{total_fmt} {unit} in {elapsed}{postfix}"})
        super().close()
        if self._log is not None:
            self._log.close()
            self._log = None
        if final:
            print(line)  # the record keeps this one line per loop; the redraws are in progress.log


def read_progress(path: str | os.PathLike) -> Status | None:
    """The kernel's latest status, or None while there is none (or it is being replaced)."""
    try:
        with open(path) as f:
            return Status(**json.load(f))
    except (OSError, ValueError, TypeError):
        return None


def read_status(path: str | os.PathLike) -> str:
    status = read_progress(path)
    return status.line() if status else ""
