"""A kernel that dies with its runner, however the runner ends (exit, Ctrl-C, SIGTERM, kill -9).

jupyter_client starts kernels in a session of their own (so they can be interrupted as a group), and
ipykernel's parent poller notices a dead parent only when it next polls. On Linux the kernel asks
the OS for SIGKILL the moment the process that started it dies (prctl PR_SET_PDEATHSIG), so a
killed runner never leaves a kernel training on; elsewhere the poller remains the fallback.

The runner and its kernel talk over Unix sockets (zmq's ipc transport) in Jupyter's runtime folder:
nothing listens on a TCP port, and ipykernel has no reason to warn, at every start, that TCP traffic
is unencrypted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Runs in the child between fork and exec."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the runner died before the request took effect
        os._exit(1)


class TiedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel receives SIGKILL when the runner process ends, over ipc."""

    def __init__(self, **kw: Any):
        if sys.platform != "win32" and "transport" not in kw:  # zmq has no ipc transport on Windows
            kw["transport"] = "ipc"
            # socket files next to the connection files (cleaned up at shutdown), never in the stage folder
            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, exist_ok=True)
            kw.setdefault("ip", os.path.join(runtime, f"intertask-{uuid.uuid4().hex[:12]}-ipc"))
        super().__init__(**kw)

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client sends SIGINT before every shutdown request. A finished stage's kernel is idle, so
        # the interrupt stops nothing, and ipykernel logs it as "ERROR | KeyboardInterrupt caught in kernel"
        # in the runner's terminal. The shutdown request alone ends an idle kernel; interrupts asked for
        # at any other time (a cell's timeout) still go through.
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if sys.platform.startswith("linux"):
            parent = os.getpid()
            kw["preexec_fn"] = lambda: _die_with_parent(parent)
        await super()._async_launch_kernel(kernel_cmd, **kw)
