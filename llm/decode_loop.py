"""A model replica's decode loop: the one thread that runs its model.

Requests decode in a continuous batch (``llm.decode_batch``): one that arrives joins the running
batch at its next step, so a lone request starts at once and later ones do not wait for it to
finish; a row leaves the batch as soon as its reply ends. A request whose client left before it
joined never starts.

Everything else that computes with the model or changes it (loading a model, attaching and
detaching adapters) runs on the same thread as a job between two steps, so nothing changes the
model mid-step and no lock is needed. It also keeps torch's OpenMP threads in one team: with two
threads of the process computing, libgomp shortens its spin-waits and each decode step took
~1.4x as long (2 cores, measured).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from llm.decode_batch import DecodeBatch, Row, new_row
from llm.generation import GenerationCancelledError, GenerationRequest, GenerationResult
from llm.loading import LoadedModel

logger = logging.getLogger(__name__)

Outcome = GenerationResult | Exception


@dataclass
class Submitted:
    """A request waiting to join the batch of its model."""

    loaded: LoadedModel
    request: GenerationRequest
    cancel: threading.Event
    future: Future
    on_token: Callable[[int], None] | None


@dataclass
class StepReport:
    """What one decode step did, for the replica's counters and metrics."""

    rows: int  # rows decoded in the step
    seconds: float  # the step's wall time, prefill of the rows that joined it included
    ended: list[Outcome]


def _resolve(future: Future, outcome: Outcome) -> None:
    try:
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass  # the caller gave up on it (its client left): nobody reads it


class DecodeLoop:
    """Decodes every request of a replica in one thread, at most ``max_rows`` at once, and runs
    the jobs given to ``call`` between steps.

    ``prepare(loaded, requests)`` runs before requests join (attach their adapters) and returns
    the error of each request that cannot run, by index. ``on_step`` gets a StepReport after
    each step, or the exception of a step that failed.
    """

    def __init__(
        self,
        max_rows: int,
        prepare: Callable[[LoadedModel, list[GenerationRequest]], dict[int, Exception]],
        on_step: Callable[[StepReport | Exception], None],
    ) -> None:
        self.max_rows = max_rows
        self._prepare, self._on_step = prepare, on_step
        self._jobs: deque[Callable[[], None]] = deque()
        self._waiting: deque[Submitted] = deque()
        self._wake = threading.Condition()
        self._batch: DecodeBatch | None = None
        self._futures: dict[int, Future] = {}  # id of a Row -> its caller's future
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="decode-loop", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Requests that have not joined the batch yet."""
        return len(self._waiting)

    @property
    def decoding(self) -> int:
        """Rows in the running batch."""
        batch = self._batch
        return len(batch.rows) if batch else 0

    def submit(
        self,
        loaded: LoadedModel,
        request: GenerationRequest,
        cancel: threading.Event,
        on_token: Callable[[int], None] | None = None,
    ) -> Future:
        """Queue a request; its future gets a GenerationResult or the request's exception.
        ``on_token`` is called (from the loop's thread) with each token it decodes."""
        future: Future = Future()
        with self._wake:
            self._waiting.append(Submitted(loaded, request, cancel, future, on_token))
            self._wake.notify()
        return future

    def call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` on the loop's thread before its next step; the future gets
        what it returns or raises."""
        future: Future = Future()

        def job() -> None:
            try:
                _resolve(future, function(*args))
            except Exception as error:
                _resolve(future, error)

        with self._wake:
            self._jobs.append(job)
            self._wake.notify()
        return future

    def close(self) -> None:
        """End the thread once every queued job and request is done; then ``submit`` and
        ``call`` may no longer be used."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            jobs, joining = self._take()
            if jobs is None:
                return
            for job in jobs:
                job()
            if self._batch is None:
                continue
            started = time.perf_counter()
            rows, refused = self._admit(joining)
            try:
                ended = self._batch.join(rows)
                decoded = len(self._batch.rows)
                ended += self._batch.step() if decoded else []
            except Exception as error:  # the batch is lost: every row in it fails with this
                logger.exception("a decode step failed; its %d rows fail", self.decoding)
                self._fail_batch(error)
                self._on_step(error)
                continue
            for row, outcome in ended:
                _resolve(self._futures.pop(id(row)), outcome)
            outcomes = refused + [outcome for _, outcome in ended]
            self._on_step(StepReport(decoded, time.perf_counter() - started, outcomes))

    def _take(self) -> tuple[list[Callable[[], None]] | None, list[Submitted]]:
        """Wait for work: the jobs to run, and the waiting requests that may join the batch now
        (those of the batch's model); None for jobs once closed and idle."""
        with self._wake:
            self._wake.wait_for(
                lambda: self._jobs or self._waiting or self.decoding or self._closing
            )
            if self._closing and not (self._jobs or self._waiting or self.decoding):
                return None, []
            jobs = list(self._jobs)
            self._jobs.clear()
            if not self.decoding:
                self._batch = DecodeBatch(self._waiting[0].loaded) if self._waiting else None
            if self._batch is None:
                return jobs, []
            room = self.max_rows - len(self._batch.rows)
            joining = [s for s in self._waiting if s.loaded is self._batch.loaded][:room]
            for submitted in joining:
                self._waiting.remove(submitted)
            return jobs, joining

    def _admit(self, joining: list[Submitted]) -> tuple[list[Row], list[Outcome]]:
        """Rows for the requests that can run; the others' futures get their errors, which are
        returned too."""
        rows: list[Row] = []
        refused: list[Outcome] = []
        if not joining:
            return rows, refused
        assert self._batch is not None  # requests join only a running batch
        try:
            failed = self._prepare(self._batch.loaded, [s.request for s in joining])
        except Exception as error:
            failed = dict.fromkeys(range(len(joining)), error)
        for index, submitted in enumerate(joining):
            try:
                if submitted.cancel.is_set():
                    raise GenerationCancelledError()
                if index in failed:
                    raise failed[index]
                row = new_row(
                    submitted.loaded, submitted.request, submitted.cancel, submitted.on_token
                )
            except Exception as error:  # a bad template input must fail only its own request
                _resolve(submitted.future, error)
                refused.append(error)
                continue
            self._futures[id(row)] = submitted.future
            rows.append(row)
        return rows, refused

    def _fail_batch(self, error: Exception) -> None:
        batch, self._batch = self._batch, None
        for row in batch.rows if batch else []:
            _resolve(self._futures.pop(id(row)), error)
        for future in self._futures.values():  # rows that were joining when it failed
            _resolve(future, error)
        self._futures.clear()
