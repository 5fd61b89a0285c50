"""Hashing uploads in worker processes, off the event loop, with a bounded queue.

Decoding and hashing a photo is pure CPU (10-50 ms); done in the API process it holds the GIL,
so one API worker could hash one upload at a time while every lookup waited behind it. Here
uploads are hashed in a pool of processes sized to the cores, and the pool takes at most
``workers + queue`` uploads at once: one more is answered at once with 429 ``hashing_busy`` and
a ``Retry-After``, so that under overload a platform backs off and retries instead of its
requests piling up (unbounded queues turn a burst into timeouts for everyone).

Worker processes are forked from a fork server that has imported the hashing code once (not
from the API process, whose threads a fork would copy mid-flight); ``takedown serve`` starts
them with each API worker (:meth:`HashPool.warm`), elsewhere they start with the first upload.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from takedown.media.errors import CorruptMedia
from takedown.signals import HashOptions, HashResult, hash_bytes

_PRELOAD = ["takedown.signals"]


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(api_workers: int) -> int:
    """Hashing processes per API worker: the cores shared among the API workers, at least 1."""
    return max(1, cores() // max(1, api_workers))


def _ready() -> bool:
    """A no-op run in each new worker process (it starts the process)."""
    return True


class HashingBusy(Exception):
    """Every hashing process is busy and the queue is full: retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"hashing is busy; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class HashPool:
    """At most ``workers`` uploads hashed at once in processes, ``queue`` more waiting."""

    def __init__(self, workers: int, queue: int, *, busy_estimate_s: float = 0.05) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a hash pool needs at least one worker and a queue of 0 or more")
        self.workers = workers
        self.queue = queue
        self._busy_estimate_s = busy_estimate_s
        self._pending = 0
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    @property
    def pending(self) -> int:
        """Uploads being hashed or waiting for a process."""
        return self._pending

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)
                self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
            return self._executor

    def _retry_after(self) -> int:
        """Whole seconds until the queue has likely drained (at least 1, as HTTP wants)."""
        return max(1, math.ceil(self._pending * self._busy_estimate_s / self.workers))

    async def hash(self, data: bytes, options: HashOptions) -> HashResult:
        """Hash ``data`` in a worker process; raises :class:`HashingBusy` when full, and the
        worker's ``MediaError`` for bad media."""
        with self._lock:
            if self._pending >= self.workers + self.queue:
                raise HashingBusy(self._retry_after())
            self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            for _attempt in range(2):
                pool = self._pool()
                try:
                    return await loop.run_in_executor(pool, hash_bytes, data, options)
                except BrokenProcessPool:
                    # a worker process died (killed, out of memory, a decoder crash): the pool
                    # is useless from then on, so it is replaced; an upload that was only
                    # caught in it is hashed again, one whose media kills a worker twice is
                    # refused instead of taking every later upload down with it
                    self._replace(pool)
            raise CorruptMedia(
                "the media crashed the decoder; it was not hashed: upload it in another format"
            )
        finally:
            with self._lock:
                self._pending -= 1

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Forget ``broken`` (unless another caller replaced it already): the next hash starts
        new worker processes."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Start the fork server and the worker processes now, in the background, so that the
        first uploads do not wait for them (about a second: the fork server imports NumPy,
        Pillow and the hashing code once)."""

        def start() -> None:
            pool = self._pool()
            for future in [pool.submit(_ready) for _ in range(self.workers)]:
                future.result()

        threading.Thread(target=start, name="hash-pool-warm", daemon=True).start()

    def close(self) -> None:
        """Stop the worker processes (at shutdown); a later upload starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
