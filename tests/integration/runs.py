"""Running ``sgdsm`` as a user does: a subprocess, stopped with SIGKILL, or refused writes by the OS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import xarray as xr

SGDSM = [sys.executable, "-m", "sgdsm_dask.cli"]


def run(*args: str, check: bool = True, max_file_kib: int | None = None) -> subprocess.CompletedProcess:
    """``sgdsm ARGS``; with ``max_file_kib`` the OS refuses to let it (and its workers) grow any file past that.

    That limit (``ulimit -f``, RLIMIT_FSIZE, inherited by the Dask worker
    processes) makes a write fail half-way through a file with EFBIG, the way
    a full disk fails it with ENOSPC: the same failed ``write`` the code has to
    survive, with no root rights or special file system needed.
    """
    cmd = [*SGDSM, *args]
    if max_file_kib:
        cmd = ["bash", "-c", 'ulimit -f "$0" && exec "$@"', str(max_file_kib), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"sgdsm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def sigkill_when(args: list[str], progress, at_least: int) -> int:
    """Start ``sgdsm ARGS`` in its own process group and SIGKILL the group once ``progress()`` >= ``at_least``."""
    proc = subprocess.Popen(
        [*SGDSM, *args], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = progress()
        except Exception:  # noqa: BLE001 - the output is being created
            done = 0
        if done >= at_least:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"sgdsm {args[0]} finished before it could be stopped; the test needs a longer run"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return done


def open_store(store: Path) -> xr.Dataset:
    ds = xr.open_zarr(store, consolidated=False)
    return ds.drop_attrs()
