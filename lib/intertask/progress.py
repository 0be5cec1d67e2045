"""Progress bars that show in a notebook's record and, through a status file, in the runner's terminal.

A papermill kernel's stderr is captured into the executed notebook, not shown in the terminal, so
the study runner sets INTERTASK_STATUS_FILE and shows the latest line of it next to its run bar.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm.std import tqdm

T = TypeVar("T")
ENV_STATUS = "INTERTASK_STATUS_FILE"


class progress(tqdm):
    """tqdm with sparse updates (records stay small) that mirrors its state to the status file."""

    def __init__(self, iterable: Iterable | None = None, desc: str = "", total: int | None = None, **kw):
        kw.setdefault("mininterval", 2.0 if sys.stderr.isatty() else 15.0)
        kw.setdefault("file", sys.stderr)
        kw.setdefault("dynamic_ncols", True)
        super().__init__(iterable, desc=desc, total=total, **kw)
        self._status_path = os.environ.get(ENV_STATUS)
        self._last_status = 0.0

    def _mirror(self, force: bool = False) -> None:
        if not self._status_path:
            return
        now = time.monotonic()
        if not force and now - self._last_status < 1.0:
            return
        self._last_status = now
        total = f"/{self.total}" if self.total else ""
        post = f" {self.postfix}" if self.postfix else ""
        try:
            with open(self._status_path, "w") as f:
                f.write(f"{self.desc} {self.n}{total}{post}")
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
        self._mirror(force=True)
        super().close()


def read_status(path: str | os.PathLike) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""
