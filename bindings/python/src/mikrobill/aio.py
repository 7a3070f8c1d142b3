"""The asyncio face of the binding.

    from mikrobill.aio import MikroBILL_API
    async with MikroBILL_API("127.0.0.1", 7403, "api", "secret", KEY1, KEY2) as api:
        print(await api.process("API.GetClients"))

Every network call runs on a worker thread of the instance's own, so awaiting never blocks the
event loop, however slow the server. The thread is one per instance, which gives what the
protocol needs: one connection per instance and its calls one after another, in the order they
were awaited (the protocol has one request in flight per connection). For parallel requests use
several instances.

Cancelling a task that awaits a call:
  - while the call still waits for its turn, drops it: the request is never sent;
  - while the request is in flight, abandons it in the library (mb_cancel): the blocking call on
    the worker returns with code 9011 within about 20 ms (one blocked in the TCP connect itself
    when the connect ends, at most connect_timeout), its connection is dropped, the request
    (which may or may not have reached the server) is never resent, and the task then raises
    asyncio.CancelledError. The instance stays usable: its next call opens a new connection.
Only the cancelled task's own call is cancelled, never one queued behind it.
"""

import asyncio
import concurrent.futures
import functools
import threading
from types import TracebackType
from typing import Any, Callable, Optional, Type, TypeVar

from ._api import MikroBILL_API as _BlockingAPI

__all__ = ["MikroBILL_API"]

_T = TypeVar("_T")

# How often a cancel is repeated until the worker is out of the cancelled call (see _abandon).
_RECANCEL_S = 0.01


class _Turn:
    """One awaited call's place among the instance's calls."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False


class _NotSent(Exception):
    """The worker reached a call whose task was already cancelled, and skipped it."""


class MikroBILL_API:
    """An asyncio client of a MikroBILL core; the arguments are those of mikrobill.MikroBILL_API.

    Construction validates the configuration and keys (raising MikroBILLError, as the blocking
    class does) but does not connect; the first call does.
    """

    def __init__(
        self,
        host: str,
        port: int,
        login: str,
        password: str,
        key1: str,
        key2: str,
        *,
        connect_timeout: float = 5.0,
        io_timeout: float = 5.0,
        call_timeout: float = 30.0,
        max_frame_bytes: Optional[int] = None,
        php_floats: bool = True,
        persistent: bool = False,
        persistent_id: str = "",
        pool_max_idle: Optional[int] = None,
        pool_max_idle_total: Optional[int] = None,
        pool_idle_timeout: Optional[float] = None,
    ) -> None:
        self._api = _BlockingAPI(
            host,
            port,
            login,
            password,
            key1,
            key2,
            connect_timeout=connect_timeout,
            io_timeout=io_timeout,
            call_timeout=call_timeout,
            max_frame_bytes=max_frame_bytes,
            php_floats=php_floats,
            persistent=persistent,
            persistent_id=persistent_id,
            pool_max_idle=pool_max_idle,
            pool_max_idle_total=pool_max_idle_total,
            pool_idle_timeout=pool_idle_timeout,
        )
        self._worker: Optional[concurrent.futures.ThreadPoolExecutor] = (
            concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mikrobill-aio"))
        # mb_cancel cancels whatever call the handle runs at that moment; it knows no call of its
        # own. So it is issued only under this lock and only while _in_flight is the cancelled
        # task's turn: the worker changes _in_flight under the same lock right before and right
        # after the native call, so a cancel can never reach the next call.
        self._turn_lock = threading.Lock()
        self._in_flight: Optional[_Turn] = None

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
        """Say DISCONNECT and drop the connection; the next call connects again."""
        await self._run(self._api.disconnect)

    # The original PHP client's names, awaitable.
    async def Process(self, Path: str, Value: Any = None) -> str:
        return await self.process(Path, Value)

    async def CheckConnection(self) -> bool:
        return await self.check_connection()

    async def Close(self) -> None:
        await self.disconnect()

    async def close(self) -> None:
        """Release the connection and the native handle for good, after the calls already queued.
        Later calls raise MikroBILLError 9007. Idempotent."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(worker, self._api.close)
        finally:
            worker.shutdown(wait=False)

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

    async def _run(self, call: Callable[..., _T], *args: Any) -> _T:
        worker = self._worker
        if worker is None:
            # Closed (or closing on the worker right now): MikroBILLError 9007, as the blocking
            # class raises, and never a call on the event loop's thread.
            _BlockingAPI._raise_closed()
        turn = _Turn()
        job = worker.submit(self._call_in_turn, turn, functools.partial(call, *args))
        try:
            # Cancelling this await cancels the job too, which drops it if it has not started.
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if self._cancel_in_flight(turn):
                await self._abandon(job, turn)
            raise

    def _call_in_turn(self, turn: _Turn, call: Callable[[], _T]) -> _T:
        # On the worker thread.
        with self._turn_lock:
            if turn.cancelled:
                # Cancelled after the worker took the job but before the call began.
                raise _NotSent()
            self._in_flight = turn
        try:
            return call()
        finally:
            with self._turn_lock:
                self._in_flight = None

    def _cancel_in_flight(self, turn: _Turn) -> bool:
        """Marks the turn cancelled and, if its call is on the worker now, cancels that call in
        the library; True when it was (the call then returns 9011 within about 20 ms)."""
        with self._turn_lock:
            turn.cancelled = True
            if self._in_flight is not turn:
                return False
            self._api.cancel()
            return True

    async def _abandon(self, job: "concurrent.futures.Future[Any]", turn: _Turn) -> None:
        """Waits until the worker is out of the cancelled call, so that once the task has ended
        the request is abandoned and the instance free for its next call."""
        loop = asyncio.get_running_loop()

        # The library forgets a cancel that comes before the native call has begun (a cancel
        # only concerns the call in progress), and the worker marks the turn in flight just
        # before it calls in. So the cancel is repeated until the worker is out of the call.
        # A repeat that lands just after the call ended cannot cancel the next call, nor the
        # DISCONNECT of a disconnect() or close(): each clears the flag when it begins.
        def cancel_again() -> None:
            if self._cancel_in_flight(turn):
                loop.call_later(_RECANCEL_S, cancel_again)

        loop.call_later(_RECANCEL_S, cancel_again)
        try:
            await asyncio.wrap_future(job)
        except (Exception, asyncio.CancelledError):
            # Whatever the call returned or raised, this task ends cancelled; cancelled once more,
            # it stops waiting (the repeats go on without it).
            pass
