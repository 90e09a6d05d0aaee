"""Log filters: what sgdsm keeps out of the workers' and scheduler's logs, and why."""

from __future__ import annotations

import logging
from typing import Any


def _silence_distributed() -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


class UserErrorFilter(logging.Filter):
    """Drops a worker's "Compute Failed" record when the task raised an :class:`~sgdsm_dask.errors.SgdsmError`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Compute Failed"):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, str) and a.startswith(_USER_ERRORS) for a in args)


def _user_error_names() -> tuple[str, ...]:
    from .. import errors

    found = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.SgdsmError)]
    return tuple(f"{c.__name__}(" for c in found)


_USER_ERRORS = _user_error_names()


def quiet_shutdown(client: Any) -> None:
    """Silence the workers' and scheduler's logs before a cluster we started is closed.

    While a local cluster shuts down, a worker's heartbeat can race the
    scheduler's exit and log a connection traceback. The run is over by then
    (its result or its one-line error is already decided), so the noise would
    only hide that line.
    """
    try:
        client.run(_silence_distributed, wait=True)
        client.run_on_scheduler(_silence_distributed)
    except Exception:  # noqa: BLE001 - workers already gone: nothing left to silence
        pass
