"""The asyncio face of the binding.

    from mikrobill.aio import MikroBILL_API
    async with MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2) as api:
        print(await api.process("API.GetClients"))

Every network call runs on a worker thread of the instance's own, so awaiting never blocks the
event loop, however slow the server. The thread is one per instance, which gives what the
protocol needs: one connection per instance and its calls one after another, in the order they
were awaited (the protocol has one request in flight per connection). For parallel requests use
several instances.

Each awaited call carries a cancel token of its own (mikrobill.CancelToken). Cancelling the task
that awaits it cancels that token, so:
  - a call still waiting for its turn is dropped, or, if the worker takes it just then, returns
    at once having sent nothing;
  - a call in flight is abandoned in the library: the blocking call on the worker returns with
    code 9011 within about 20 ms (one blocked in the TCP connect itself when the connect ends, at
    most connect_timeout), its connection is dropped, the request (which may or may not have
    reached the server) is never resent, and the task then raises asyncio.CancelledError. The
    instance stays usable: its next call opens a new connection.
A token belongs to one call, so a cancel can never reach another call, queued or not.

A forked child (os.fork, multiprocessing's "fork") inherits the instance but not its worker
thread: the child gets a new worker on its first call (see _after_fork_in_child).
"""

import asyncio
import concurrent.futures
import functools
import os
import queue
import threading
import weakref
from types import TracebackType
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar

from ._api import MikroBILL_API as _BlockingAPI
from ._cancel import CancelToken
from ._options import Configured, Hidden

__all__ = ["MikroBILL_API"]

_T = TypeVar("_T")

_Job = Tuple["concurrent.futures.Future[Any]", Callable[[], Any]]


class _Worker:
    """One thread that runs an instance's calls one after another, in the order submitted.

    Written here rather than taken from concurrent.futures.ThreadPoolExecutor because the
    executor's submit() takes a module-wide lock that, before Python 3.9.8 (Debian 11 has 3.9.2),
    stays held for ever in a child forked while another thread held it. This worker's only lock
    is its own, and a forked child makes a new worker (see _after_fork_in_child).
    """

    def __init__(self) -> None:
        self._jobs: "queue.SimpleQueue[Optional[_Job]]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def submit(self, call: Callable[[], _T]) -> "concurrent.futures.Future[_T]":
        future: "concurrent.futures.Future[_T]" = concurrent.futures.Future()
        with self._lock:
            if self._thread is None:
                # Started with the first call, so that an instance never used costs no thread.
                # A daemon, so that an instance never closed cannot keep the interpreter from
                # exiting; shutdown() (from close() or the instance's collection) ends it.
                self._thread = threading.Thread(target=_run_jobs, args=(self._jobs,),
                                                name="mikrobill-aio", daemon=True)
                self._thread.start()
        self._jobs.put((future, call))
        return future

    def shutdown(self) -> None:
        """The thread ends after the calls already submitted."""
        self._jobs.put(None)


def _run_jobs(jobs: "queue.SimpleQueue[Optional[_Job]]") -> None:
    # A function of the queue only, so that the thread keeps no instance alive.
    while True:
        job = jobs.get()
        if job is None:
            return
        future, call = job
        # False when the awaiting task was cancelled before the worker took the call: dropped.
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = call()
        except BaseException as exc:  # handed to the awaiting task, as an executor would
            future.set_exception(exc)
        else:
            future.set_result(result)
        del job, future, call


def _new_worker() -> _Worker:
    return _Worker()


class MikroBILL_API(Configured):
    """An asyncio client of a MikroBILL core. It takes the very constructor of
    mikrobill.MikroBILL_API (both inherit it from one definition), which validates the
    configuration and keys (raising MikroBILLError) but does not connect; the first call does.
    """

    # Until _open has run: closed, nothing to release.
    _worker: Optional[_Worker] = None

    def _open(self, config_json: Hidden, description: str) -> None:
        self._api = _BlockingAPI.__new__(_BlockingAPI)
        self._api._open(config_json, description)
        self._worker = _new_worker()
        _instances.add(self)
        # An instance collected without close(): its worker thread ends (its handle is released
        # by the blocking instance's own collection).
        # Given the instance's attributes rather than the worker, so that it finds the worker the
        # instance has then (a forked child's own), and holds nothing that refers back to it.
        weakref.finalize(self, _shutdown_worker_in, vars(self))

    async def process(self, path: str, value: Any = None) -> str:
        """The reply text to one request; value is any JSON-serializable object (None reads).

        Failures come back as the library's JSON error text, as with the blocking class.
        """
        return await self._run(self._api.process, path, value)

    async def process_json(self, path: str, value_json: Optional[str]) -> str:
        """Like process(), with the value given as JSON text (None reads)."""
        return await self._run(self._api.process_json, path, value_json)

    async def check_connection(self) -> bool:
        """True when the core answers (connecting and logging in if needed)."""
        return await self._run(self._api.check_connection)

    async def disconnect(self) -> None:
        """Say DISCONNECT and drop the connection; the next call connects again.

        Not cancellable in the library (it takes no token), and it need not be: the library
        bounds it by io_timeout. A cancelled task stops waiting for it at once all the same."""
        await self._on_worker(self._api.disconnect)

    # The original PHP client's names, awaitable.
    async def Process(self, Path: str, Value: Any = None) -> str:
        return await self.process(Path, Value)

    async def CheckConnection(self) -> bool:
        return await self.check_connection()

    async def Close(self) -> None:
        await self.disconnect()

    async def close(self) -> None:
        """Release the connection and the native handle for good, after the calls already queued.
        Later calls raise MikroBILLError 9007. Idempotent. Like disconnect(), bounded by
        io_timeout in the library, so it takes no cancel token."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            await asyncio.wrap_future(worker.submit(self._api.close))
        finally:
            worker.shutdown()

    @property
    def closed(self) -> bool:
        return self._worker is None or self._api.closed

    async def __aenter__(self) -> "MikroBILL_API":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "<mikrobill.aio.MikroBILL_API %s>" % repr(self._api)[len("<MikroBILL_API "):-1]

    def _submit(self, call: Callable[[], _T]) -> "concurrent.futures.Future[_T]":
        worker = self._worker
        if worker is None:
            # Closed (or closing on the worker right now): MikroBILLError 9007, as the blocking
            # class raises, and never a call on the event loop's thread.
            _BlockingAPI._raise_closed()
        return worker.submit(call)

    async def _on_worker(self, call: Callable[[], _T]) -> _T:
        return await asyncio.wrap_future(self._submit(call))

    async def _run(self, call: Callable[..., _T], *args: Any) -> _T:
        """Runs call(*args, cancel_token=<this call's own token>) on the worker."""
        token = CancelToken()
        job = self._submit(functools.partial(call, *args, cancel_token=token))
        try:
            # Cancelling this await also drops the job if the worker has not taken it yet.
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            token.cancel()
            if not job.cancelled():
                await self._until_done(job)
            raise

    @staticmethod
    async def _until_done(job: "concurrent.futures.Future[Any]") -> None:
        """Waits until the worker is out of the cancelled call (the token makes that within about
        20 ms), so that once the task has ended the request is abandoned and the instance is free
        for its next call."""
        try:
            await asyncio.wrap_future(job)
        except (Exception, asyncio.CancelledError):
            # Whatever the call returned or raised, the task ends cancelled; cancelled once more,
            # it stops waiting.
            pass

    def _replace_worker_after_fork(self) -> None:
        # Runs in a forked child. The parent's worker thread does not exist here, so nothing
        # submitted to its queue would ever run, and its lock may have been held by a parent
        # thread at the fork. A new worker starts a thread of its own on its first call; the old
        # one is dropped untouched.
        if self._worker is not None:
            self._worker = _new_worker()


def _shutdown_worker_in(attributes: Dict[str, Any]) -> None:
    worker = attributes.get("_worker")
    if worker is not None:
        worker.shutdown()


# Every live instance, so that a forked child can find them; weak so that it keeps none alive.
_instances: "weakref.WeakSet[MikroBILL_API]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for api in list(_instances):
        api._replace_worker_after_fork()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork to guard against
    os.register_at_fork(after_in_child=_after_fork_in_child)
