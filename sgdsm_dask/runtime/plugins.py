"""Worker plugins that every cluster sgdsm runs on gets (:func:`register_plugins`)."""

from __future__ import annotations

import logging
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from ..io import zarr_store
from . import malloc
from .logs import UserErrorFilter


class QuietUserErrors(WorkerPlugin):
    """A worker plugin: a task that fails on the user's input or disk logs no traceback on its worker.

    The client turns the same error into one ``sgdsm: error:`` line naming
    the file; the worker's "Compute Failed" record with its traceback would
    only bury that line. Other task failures (bugs) are logged as usual.
    """

    name = "sgdsm-quiet-user-errors"

    def setup(self, worker: Any) -> None:
        logger = logging.getLogger("distributed.worker")
        if not any(isinstance(f, UserErrorFilter) for f in logger.filters):
            logger.addFilter(UserErrorFilter())
        zarr_store.quiet_zarr_leftovers()


class TunedMalloc(WorkerPlugin):
    """A worker plugin: the worker process's allocator keeps megabyte arrays in its heap (:mod:`.malloc`).

    A nanny's ``MALLOC_TRIM_THRESHOLD_`` otherwise sends every array above
    128 KiB to a mapping of its own, faulted in anew each time: decoded
    days while staging, tensors while reconstructing.
    """

    name = "sgdsm-tuned-malloc"

    def setup(self, worker: Any) -> None:
        malloc.tune()


def register_plugins(client: Any) -> None:
    """What every cluster ``sgdsm`` runs on gets: quiet user errors and the tuned allocator."""
    client.register_plugin(QuietUserErrors())
    client.register_plugin(TunedMalloc())
