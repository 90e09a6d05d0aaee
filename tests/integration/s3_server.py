"""A real S3 API on 127.0.0.1: moto's server, started as a process of its own, reached through s3fs.

The credentials and the endpoint are set in the environment, as a user of
an object store sets them, and every ``sgdsm`` subprocess and its Dask
workers inherit them; no command takes them as an option.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: The secret key of the tests: no output and no file or object may ever hold it.
SECRET = "sgdsm-test-secret-Xq7pLw2vR9"
ACCESS_KEY = "sgdsmtestaccess"


@dataclass(frozen=True)
class S3Server:
    """A running moto server: its endpoint and the environment that reaches it."""

    endpoint: str
    env: dict[str, str]

    def filesystem(self):
        """An s3fs filesystem on the server (listings not cached: other processes write the bucket)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=ACCESS_KEY,
            secret=SECRET,
            endpoint_url=self.endpoint,
            use_listings_cache=False,
            skip_instance_cache=True,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server(timeout: float = 60.0) -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on a free port of 127.0.0.1; stop it when done."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"moto's server exited with code {proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto's server did not answer on {endpoint} within {timeout:.0f} s") from None
                time.sleep(0.1)
        env = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        yield S3Server(endpoint, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _set_environment(values: dict[str, str | None]) -> None:
    """Set (None: remove) ``values`` in this process's environment; forget the S3 filesystems made before.

    fsspec keeps one filesystem per set of arguments, and a filesystem made
    from the environment keeps the endpoint and the keys it found then: a
    later server (another port) would otherwise be reached at the old one.
    """
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        import s3fs
    except ImportError:
        return
    s3fs.S3FileSystem.clear_instance_cache()


def _current_client():
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set in this process (so in every subprocess it starts) and in the workers of the current Dask client.

    A session's client started before the server has worker processes that
    did not inherit the credentials; they are given them here, and their
    environment is put back at the end, as this process's is.
    """
    before: dict[str, str | None] = {k: os.environ.get(k) for k in env}
    _set_environment(dict(env))
    client = _current_client()
    if client is not None:
        client.run(_set_environment, dict(env))
    try:
        yield
    finally:
        _set_environment(before)
        if client is not None and client.status == "running":
            client.run(_set_environment, before)
