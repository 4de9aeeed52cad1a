"""The box JSONata runs in: a few worker processes that can be killed, with a time and a memory limit.

    box = default_box()
    result = box.evaluate(text, payload, timeout_ms=500, max_depth=500, now_ms=...)

``builder.transform.evaluate`` is the way in; nothing else needs to call this module. Why a box:
jsonata-python's own timeout is checked between evaluation steps, so one long step (a regular
expression backtracking in C while holding the GIL, ``$split`` of a 20 MB string, a ten-million
item range) runs on and freezes the process it runs in. Here it runs in a worker process:

* each worker is ``python -m builder.expression_box`` (a subprocess speaking length-prefixed
  frames over its stdin and stdout pipes: no fork of a threaded web server, no Django; it imports
  only ``builder.jsonata_eval`` and ``builder.datapoints`` of ours), started lazily (a Celery pool
  process starts one as it starts: ``builder.receivers``), long-lived, compiling each expression
  once and keeping the last inputs it parsed;
* the caller waits at most the time limit plus a small slack (more for a large input, which the
  worker must parse first); on overrun the worker is killed (SIGKILL) and replaced, and the caller
  gets an ``ExpressionError`` saying so in plain words (``D1012``, as jsonata's own timeout);
* the worker sets ``RLIMIT_AS`` on itself: a memory bomb ends in ``MemoryError`` there, reported
  as ``MEMORY_LIMIT``, and that worker is replaced; if the worker dies anyway the caller is told;
* as a backstop when its caller is gone, each evaluation arms ``SIGALRM`` (left at its default
  action, which the kernel carries out even while C code holds the GIL) at twice the limit;
* several threads evaluate at once, one per worker; a caller queues for a free worker for at
  most ``queue_wait_ms`` (``BUSY`` after that), so a stuck expression never blocks other users.

Inputs cross the boundary pickled (``pack``): for parsed JSON, pickle writes and reads about three
times faster than json (5,000 Vtiger Leads: 12 ms each way against 30-65 ms and 45 ms); pickles
only go from the caller to its worker, never back. Answers come back as JSON, so nothing an
expression produced is ever unpickled. The worker keeps the last ``KEPT_INPUTS`` inputs it read
by digest, so the live editor's evaluations against the same stored response send it once. The
caller keeps the same list for each worker (the same rule, fed by the same requests), so it
knows whether to send the input and writes it right behind the request: every evaluation is one
round trip. (A sync's input is new each time; a second round trip to learn that cost each sync a
wake-up of both processes, several milliseconds on a loaded machine.)

The live editor shows a result's first rows, the datapoints' count and total, or what is wrong
with its shape: asked for a ``summary``, the worker checks the result by the shape contract
(``builder.datapoints.summarise``, the same check as ``to_datapoints``) and answers only that, so
5,000 datapoints are neither encoded, decoded nor checked again in the web process.

Settings: ``EXPRESSION_WORKERS`` (2), ``EXPRESSION_MEMORY_MB`` (512), ``EXPRESSION_QUEUE_WAIT_MS``
(1000), handed to ``configure`` by builder's AppConfig; without Django, the defaults. No Django here.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import gc
import hashlib
import json
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from builder import datapoints, jsonata_eval
from builder.jsonata_eval import ExpressionError, too_long_message, too_much_memory_message

DEFAULT_WORKERS = 2
DEFAULT_MEMORY_MB = 512
DEFAULT_QUEUE_WAIT_MS = 1000
SLACK_MS = 250  # beyond the time limit: the worker's own D1012, its reply, the pipe
PARSE_BYTES_PER_MS = 10_000  # extra wait for the worker to parse a large input (10 MB/s, generous)
KEPT_INPUTS = 2  # parsed inputs a worker keeps, most recent first
STARTUP_S = 30.0  # for a new worker to say it is ready (imports), outside any evaluation's time limit

ROOT = Path(__file__).resolve().parent.parent
FRAME = struct.Struct("!I")
CHUNK = 1 << 20


# Inputs packed once and answered from memory (``keep_packed``): id(data) -> (data, payload, format, digest).
# Holding ``data`` keeps its id from being reused by another object while the entry lives.
_packed: collections.OrderedDict[int, tuple[Any, bytes, str, str]] = collections.OrderedDict()
_packed_lock = threading.Lock()


def keep_packed(data: Any) -> None:
    """From now on, ``pack`` answers for this very object from memory, and ``digest`` for its bytes.

    For an input evaluated again and again (the live editor's stored response: 12 ms to pickle
    and 4 ms to digest each keystroke for 5,000 Vtiger Leads). The caller promises never to change
    ``data`` afterwards. The last ``KEPT_INPUTS`` objects are kept, as a worker keeps its inputs.
    """
    payload, payload_format = _pack(data)
    with _packed_lock:
        _packed[id(data)] = (data, payload, payload_format, _digest(payload))
        while len(_packed) > KEPT_INPUTS:
            _packed.popitem(last=False)


def pack(data: Any) -> tuple[bytes, str]:
    """``data`` as bytes for the worker, and their format: a pickle, or JSON if it will not pickle."""
    with _packed_lock:
        kept = _packed.get(id(data))
    if kept is not None and kept[0] is data:
        return kept[1], kept[2]
    return _pack(data)


def _pack(data: Any) -> tuple[bytes, str]:
    try:
        try:
            return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), "pickle"
        except (pickle.PicklingError, TypeError, AttributeError):
            return json.dumps(data, separators=(",", ":"), default=str).encode(), "json"
    except RecursionError:
        raise ExpressionError(
            "INPUT_TOO_DEEP", "The response is nested too deeply to evaluate (more than about 1,000 levels)."
        ) from None


def digest(payload: bytes) -> str:
    """The key a worker holds ``payload``'s input by (remembered for the bytes of a ``keep_packed`` input)."""
    with _packed_lock:
        for _, kept_payload, _, kept_digest in _packed.values():
            if kept_payload is payload:
                return kept_digest
    return _digest(payload)


def _digest(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


class _Overrun(Exception):
    """The worker did not answer in time."""


class _Died(Exception):
    """The worker's pipe closed: it exited or was killed."""


# ---------------------------------------------------------------- the caller's side


class _Worker:
    """One worker process and its two pipes; used by one thread at a time (the box sees to that)."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None
        self.ready = False  # its first frame, "ready", has been read
        # The digests of the inputs the process holds, most recent last: the worker's own list,
        # kept by the same rule (``hold``) from the same requests.
        self.held: collections.OrderedDict[str, None] = collections.OrderedDict()

    def ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.discard()
        self.ready = False
        self.held.clear()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no user input
            [sys.executable, "-m", "builder.expression_box", str(self.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            bufsize=0,
        )
        os.set_blocking(self.proc.stdin.fileno(), False)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def discard(self) -> None:
        """Kill the process (if any) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        proc.wait()

    def forget(self) -> None:
        """In a forked child: close the inherited pipes, leave the process to its real owner."""
        proc, self.proc = self.proc, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError, ValueError):
                    os.close(pipe.fileno())

    def _wait(self, fd: int, events: int, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Overrun
        poller = select.poll()  # not select(): a busy web process may hold descriptors past 1024
        poller.register(fd, events)
        if not poller.poll(remaining * 1000):
            raise _Overrun

    def hold(self, key: str) -> bool:
        """Note that the process holds input ``key`` now; whether it must be sent (it did not hold it).

        The worker's rule exactly: a held input becomes the most recent, a new one is added and
        the oldest beyond ``KEPT_INPUTS`` dropped.
        """
        if key in self.held:
            self.held.move_to_end(key)
            return False
        self.held[key] = None
        while len(self.held) > KEPT_INPUTS:
            self.held.popitem(last=False)
        return True

    def send(self, *frames: bytes, deadline: float) -> None:
        """Write ``frames`` in one go (one system call when they fit the pipe), waiting only when it is full."""
        fd = self.proc.stdin.fileno()
        view = memoryview(b"".join(part for frame in frames for part in (FRAME.pack(len(frame)), frame)))
        while view:
            try:
                written = os.write(fd, view[:CHUNK])
            except BlockingIOError:
                self._wait(fd, select.POLLOUT, deadline)
                continue
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise _Died from exc
            view = view[written:]

    def receive(self, deadline: float) -> dict:
        """The next frame, parsed. The worker writes one frame per request and then waits, so
        whatever the pipe holds belongs to this frame: read all of it at each wake-up."""
        fd = self.proc.stdout.fileno()
        buffer = bytearray()
        end = None
        while end is None or len(buffer) < end:
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:
                self._wait(fd, select.POLLIN, deadline)
                continue
            if not chunk:
                raise _Died
            buffer += chunk
            if end is None and len(buffer) >= FRAME.size:
                end = FRAME.size + FRAME.unpack_from(buffer)[0]
        return json.loads(buffer[FRAME.size : end])


class ExpressionBox:
    """A pool of ``workers`` worker processes; ``evaluate`` is safe to call from many threads."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        memory_mb: int = DEFAULT_MEMORY_MB,
        queue_wait_ms: int = DEFAULT_QUEUE_WAIT_MS,
        slack_ms: int = SLACK_MS,
    ) -> None:
        if workers < 1:
            raise ValueError("An expression box needs at least one worker.")
        self.memory_mb = memory_mb
        self.queue_wait_ms = queue_wait_ms
        self.slack_ms = slack_ms
        self._all = [_Worker(memory_mb) for _ in range(workers)]
        self._idle = collections.deque(self._all)  # last in, first out: the warmest worker first
        self._ready = threading.Condition()
        self.closed = False
        self.busy = 0  # evaluations handed to a started worker and not answered yet (tests wait on it)
        self.replaced = 0  # workers killed and replaced so far
        self.inputs_sent = 0  # inputs a worker did not have yet

    def __enter__(self) -> ExpressionBox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start_one_worker(self) -> None:
        """Start the process of the worker the next evaluation gets, now rather than at that evaluation.

        One is enough for a caller that evaluates one expression at a time (a Celery pool process);
        the others still start on first use. It does not wait for the worker to be ready (the first
        evaluation does), and a failure to start is left for that evaluation to report.
        """
        worker = self._acquire()
        try:
            with contextlib.suppress(OSError):
                worker.ensure()
        finally:
            self._release(worker)

    def close(self) -> None:
        """Kill every worker, busy or not; evaluations in flight end with an error."""
        with self._ready:
            self.closed = True
            idle = list(self._idle)
            busy = [worker for worker in self._all if worker not in idle]
            self._ready.notify_all()
        for worker in idle:
            worker.discard()
        for worker in busy:  # its caller sees the pipe close, and cleans up
            proc = worker.proc
            if proc is not None:
                proc.kill()

    def forget(self) -> None:
        self.closed = True
        for worker in self._all:
            worker.forget()

    def _acquire(self) -> _Worker:
        with self._ready:
            if not self._ready.wait_for(lambda: self._idle or self.closed, self.queue_wait_ms / 1000):
                raise ExpressionError(
                    "BUSY",
                    "Too many expressions are being evaluated right now; try again in a moment.",
                )
            if self.closed:
                message = "Expressions cannot be evaluated now: the evaluator is shutting down."
                raise ExpressionError("BOX_CLOSED", message)
            return self._idle.pop()

    def _release(self, worker: _Worker) -> None:
        if self.closed:
            worker.discard()  # a replacement started while the box was closing
        with self._ready:
            self._idle.append(worker)
            self._ready.notify()

    def _exchange(self, worker: _Worker, request: dict, payload: bytes, deadline: float, timeout_ms: int) -> dict:
        try:
            request["input"] = worker.hold(request["digest"])
            frames = [json.dumps(request).encode()]
            if request["input"]:
                self.inputs_sent += 1
                frames.append(payload)
            worker.send(*frames, deadline=deadline)
            return worker.receive(deadline)
        except _Overrun:
            raise ExpressionError("D1012", too_long_message(timeout_ms)) from None
        except _Died:
            raise ExpressionError(
                "EVALUATOR_STOPPED",
                f"The expression stopped its evaluator (perhaps it used more than {self.memory_mb:,} MB).",
            ) from None

    def evaluate(
        self,
        expression: str,
        payload: bytes,
        *,
        timeout_ms: int,
        max_depth: int,
        now_ms: int,
        payload_format: str = "json",
        summary: tuple[str, int] | None = None,
    ) -> Any:
        """The result of ``expression`` on ``payload`` (``pack``'s bytes, or JSON), or ExpressionError.

        ``summary``: (date mode, rows): the worker checks the result by the shape contract and
        answers ``builder.datapoints.summarise``'s small dict instead of the whole result.
        """
        request = {
            "expression": expression,
            "digest": digest(payload),
            "format": payload_format,
            "timeout_ms": timeout_ms,
            "max_depth": max_depth,
            "now_ms": now_ms,
        }
        if summary is not None:
            request["summary"] = list(summary)
        worker = self._acquire()
        keep = False
        try:
            try:
                worker.ensure()
                if not worker.ready:  # a slow start (a loaded machine) is not the expression's time
                    worker.ready = bool(worker.receive(time.monotonic() + STARTUP_S).get("ready"))
            except (OSError, _Overrun, _Died, ValueError) as exc:
                message = f"Expressions cannot be evaluated now: no worker could start ({type(exc).__name__})."
                raise ExpressionError("BOX_FAILED", message) from exc
            deadline = time.monotonic() + (timeout_ms + self.slack_ms + len(payload) / PARSE_BYTES_PER_MS) / 1000
            with self._ready:
                self.busy += 1
            try:
                reply = self._exchange(worker, request, payload, deadline, timeout_ms)
            finally:
                with self._ready:
                    self.busy -= 1
            keep = not reply.get("retire")
            if "error" in reply:
                code, message, position = reply["error"]
                if code == "MEMORY_LIMIT":
                    message = too_much_memory_message(self.memory_mb)
                raise ExpressionError(code, message, position)
            return reply["summary"] if summary is not None else reply["result"]
        finally:
            # Killed on overrun, on any error mid-exchange (a Celery soft time limit, Ctrl-C) and
            # after a memory error: a worker is reused only after a clean answer.
            if not keep or self.closed:
                worker.discard()
            if not keep:
                with self._ready:
                    self.replaced += 1
                if not self.closed:
                    with contextlib.suppress(OSError):  # if it fails, it is tried again on next use
                        worker.ensure()  # the replacement starts while the caller carries on
            self._release(worker)


# ---------------------------------------------------------------- the default box


_default: ExpressionBox | None = None
_default_lock = threading.Lock()


_settings: dict[str, int] = {}


def configure(workers: int, memory_mb: int, queue_wait_ms: int) -> None:
    """The default box's settings (builder's AppConfig passes Django's); a running box is rebuilt on next use."""
    global _default
    _settings.update(workers=workers, memory_mb=memory_mb, queue_wait_ms=queue_wait_ms)
    with _default_lock:
        old, _default = _default, None
    if old is not None:
        old.close()


def default_box() -> ExpressionBox:
    """The process's box, built on first use."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = ExpressionBox(**_settings)
        return _default


def _close_default() -> None:
    if _default is not None:
        _default.close()


def _after_fork_in_child() -> None:
    # A forked child (a Celery pool process) must not share its parent's workers or locks.
    global _default, _default_lock
    _default_lock = threading.Lock()
    if _default is not None:
        _default.forget()
    _default = None


atexit.register(_close_default)
os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------- the worker's side


def _read_frame(stream) -> bytes | None:
    header = stream.read(FRAME.size)
    if len(header) < FRAME.size:
        return None
    (size,) = FRAME.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def _write_frame(stream, payload: bytes) -> None:
    stream.write(FRAME.pack(len(payload)) + payload)
    stream.flush()


def _encode(reply: dict) -> bytes:
    # The only non-JSON thing JSONata returns is a function.
    return json.dumps(reply, separators=(",", ":"), default=lambda _: "<function>").encode()


def serve(memory_mb: int) -> None:
    """The worker's loop: read a request, evaluate, answer; exit when the caller closes the pipe."""
    # Ctrl-C reaches the whole process group: the caller decides, and a closed pipe ends the loop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, not into the replies
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    inputs: collections.OrderedDict[str, Any] = collections.OrderedDict()
    _write_frame(replies, b'{"ready":1}')
    while True:
        frame = _read_frame(requests)
        if frame is None:
            return
        request = json.loads(frame)
        timeout_ms = request["timeout_ms"]
        # Dies by SIGALRM's default action if the caller is gone and the expression runs on.
        signal.setitimer(signal.ITIMER_REAL, (2 * timeout_ms + 2000) / 1000)
        retire = False
        try:
            key = request["digest"]
            if not request["input"]:
                # The caller sends an input whenever its copy of this list says it is not here.
                inputs.move_to_end(key)
            else:
                payload = _read_frame(requests)
                if payload is None:
                    return
                gc.collect()
                if request.get("format") == "pickle":
                    inputs[key] = pickle.loads(payload)  # noqa: S301 - from the caller that started us, not a user
                else:
                    inputs[key] = json.loads(payload)
                del payload
                while len(inputs) > KEPT_INPUTS:
                    inputs.popitem(last=False)
                # Parsed JSON holds no cycles: keep the inputs out of the cyclic collector's sight, which
                # would otherwise walk them all again and again while an expression allocates. The
                # collect() before makes sure no garbage of earlier evaluations is frozen with them.
                gc.freeze()
            compiled = jsonata_eval.parse(request["expression"])
            result = jsonata_eval.evaluate_in_process(
                compiled, inputs[key], timeout_ms, request["max_depth"], now_ms=request["now_ms"]
            )
            if request.get("summary"):
                date_mode, rows = request["summary"]
                reply = _encode({"summary": datapoints.summarise(result, date_mode, rows)})
            else:
                reply = _encode({"result": result})
            del result
        except ExpressionError as exc:
            reply = _encode({"error": [exc.code, exc.message, exc.position]})
        except MemoryError:
            inputs.clear()
            retire = True
            reply = _encode({"error": ["MEMORY_LIMIT", "", None], "retire": True})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        _write_frame(replies, reply)
        if retire:
            return


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MEMORY_MB)
