"""One way to run tasks: in this process without a client, on the Dask cluster with one.

Every job of sgdsm (stage, reconstruct, export, sample extraction, the
synthetic archive) runs its tasks through here, so that a run without a
cluster and a run on one do the same work in the same way and report
progress through one callback:

- :class:`TaskPool`: tasks submitted one by one (run when collected,
  without a client), their results collected as they finish;
- :func:`run_tasks`: independent tasks, results as they finish;
- :func:`run_chains`: chains of tasks, each handed the previous one's
  result (the reconstruction's LSTM state), which stays on the workers;
- :func:`submit`: one task now, its result later (a future, or the value).

A task the cluster gave up on (its worker lost, or killed too often) is
one :class:`~sgdsm_dask.errors.SgdsmError` line, not Dask's traceback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SgdsmError

Progress = Callable[[int], None]
#: What a job's finished work is, for a task the cluster gave up on.
RESUME = "finished chunks are kept: run the same command again to resume"


def raise_for(fut: Any, resume: str = RESUME) -> None:
    """The error of a task that did not finish: its own, or one line for a task the cluster gave up on."""
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    try:
        fut.result()
    except (CancelledError, KilledWorker) as exc:
        why = "lost with its worker" if isinstance(exc, CancelledError) else "its workers died while running it"
        raise SgdsmError(
            f"Dask gave up on task {fut.key} ({why}; distributed.scheduler.allowed-failures sets how often it "
            f"retries); {resume}"
        ) from None


class TaskPool:
    """Tasks submitted one at a time and collected as they finish, with one progress callback.

    Without a client a task runs in this process when it is collected
    (:meth:`finished`), one at a time; with one it runs on the cluster as
    soon as it is submitted. ``size`` tells ``progress`` how much a result
    counts (1 by default); progress is reported once the caller has taken
    the result.
    """

    def __init__(
        self, client: Any | None, progress: Progress | None = None, size: Callable[[Any], int] | None = None
    ) -> None:
        self.client = client
        self.progress = progress
        self.size = size or (lambda _: 1)
        self._queued: deque[tuple[int, Callable[[], Any]]] = deque()
        self._index: dict[str, int] = {}
        self._running: dict[str, Any] = {}  # the futures not collected yet
        self._submitted = 0
        self._pending: Any = None
        if client is not None:
            from distributed import as_completed

            self._pending = as_completed()

    def submit(self, fn: Callable, *args: Any, key: str | None = None, **options: Any) -> int:
        """Submit ``fn(*args)`` (Dask ``submit`` options pass through); its index, in submission order."""
        i = self._submitted
        self._submitted += 1
        if self.client is None:
            self._queued.append((i, lambda: fn(*args)))
        else:
            fut = self.client.submit(fn, *args, key=key, pure=False, **options)
            self._index[fut.key] = i
            self._running[fut.key] = fut
            self._pending.add(fut)
        return i

    def finished(self, wait: bool = True) -> Iterator[tuple[int, Any]]:
        """``(index, result)`` of each task as it finishes, each once; all of them with ``wait``, else those ready."""
        while self._queued:
            i, task = self._queued.popleft()
            yield from self._report(i, task())
        if self._pending is None:
            return
        if wait:
            futures: Iterable[Any] = self._pending
        else:
            futures = self._pending.next_batch(block=False) if self._pending.has_ready() else ()
        for fut in futures:
            self._running.pop(fut.key, None)
            if fut.status != "finished":
                self._settle()
                raise_for(fut)
            yield from self._report(self._index.pop(fut.key), fut.result())

    def _settle(self) -> None:
        """Let the other tasks end before a failure is raised: one still writing as the command returns
        would leave its temporary file behind (the failure of a full disk is often theirs too)."""
        from distributed import wait

        wait(list(self._running.values()))
        self._running.clear()

    def _report(self, i: int, result: Any) -> Iterator[tuple[int, Any]]:
        yield i, result
        if self.progress:
            self.progress(self.size(result))


def run_tasks(
    client: Any | None,
    fn: Callable,
    items: Iterable[Sequence[Any]],
    *,
    key: Callable[[Sequence[Any]], str] | None = None,
    progress: Progress | None = None,
    size: Callable[[Any], int] | None = None,
) -> Iterator[tuple[int, Any]]:
    """``fn(*item)`` for each item: ``(index of the item, result)`` as each finishes (in order without a client)."""
    pool = TaskPool(client, progress, size)
    for item in items:
        pool.submit(fn, *item, key=key(item) if key else None)
    yield from pool.finished(wait=True)


def gather_tasks(client: Any | None, fn: Callable, items: Sequence[Sequence[Any]], **kw: Any) -> list[Any]:
    """The results of :func:`run_tasks`, in the order of ``items``."""
    out: list[Any] = [None] * len(items)
    for i, result in run_tasks(client, fn, items, **kw):
        out[i] = result
    return out


def run_chains(
    client: Any | None,
    fn: Callable,
    chains: Iterable[Sequence[Sequence[Any]]],
    *,
    key: Callable[[Sequence[Any]], str],
    resources: dict[str, float] | None = None,
    priority: int = 0,
) -> Iterator[Sequence[Any]]:
    """Run each chain of ``fn(*item, previous)`` (``None`` first); yield each item as its task finishes.

    Chains run in parallel on a cluster, one after the other without a
    client. The client holds each future only until it completes and never
    fetches a result: a task's result (megabytes of state) stays on its
    worker only while the next task of its chain needs it.
    """
    if client is None:
        for chain in chains:
            state = None
            for item in chain:
                state = fn(*item, state)
                yield item
        return
    from distributed import as_completed

    pending, item_of = as_completed(), {}
    for chain in chains:
        prev = None
        for item in chain:
            prev = client.submit(fn, *item, prev, key=key(item), pure=False, resources=resources, priority=priority)
            pending.add(prev)
            item_of[prev.key] = item
    prev = None  # the client keeps no future beyond its completion
    for fut in pending:
        if fut.status != "finished":
            raise_for(fut)
        item = item_of.pop(fut.key)
        del fut
        yield item


@dataclass(frozen=True)
class Done:
    """The result of a task run in this process, as a future would give it."""

    value: Any

    def result(self) -> Any:
        return self.value


def submit(client: Any | None, fn: Callable, *args: Any) -> Any:
    """``fn(*args)``: a Dask future on ``client``, or run now (a :class:`Done`); both give ``.result()``."""
    if client is None:
        return Done(fn(*args))
    return client.submit(fn, *args, pure=False)
