"""Micro-batching: predictions that arrive together for the same model run as one batch.

The engine embeds a batch in one forward pass, much cheaper per image than one pass each (2x for
small models on a CPU, far more on a GPU). No request waits for a timer: while fewer than
`parallel` batches of a model run, a request runs at once; the requests that arrive while they run
make up the next batch. A lone client sees no added latency and a busy server batches by itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from sightline import telemetry
from sightline.errors import ImageError
from sightline.service import Workspace, predictions
from sightline.service.views import PredictionView


@dataclass(frozen=True)
class Target:
    """What a prediction runs against; requests with equal targets can share a batch."""

    project_id: str
    publish_name: str | None = None
    iteration_id: str | None = None
    store: bool = True


@dataclass
class _Queue:
    waiting: list[tuple[bytes, asyncio.Future]] = field(default_factory=list)
    drains: int = 0  # batches of this target running now


class PredictionBatcher:
    """Lives in the event loop thread (no locks); batches run in worker threads, at most `parallel` per
    target at once, so that decoding one batch overlaps the model running another.
    `max_batch=1` turns batching off: each request then runs at once in its own thread."""

    def __init__(self, ws: Workspace, *, max_batch: int = 32, parallel: int = 2):
        self.ws, self.max_batch, self.parallel = ws, max_batch, parallel
        self._queues: dict[Target, _Queue] = {}
        self._tasks: set[asyncio.Task] = set()  # strong references, or running drains could be collected
        self.batch_sizes: list[int] = []  # what ran, for tests and benchmarks

    async def predict(self, target: Target, data: bytes) -> PredictionView:
        """The prediction for one image; its own ImageError (or the batch's error) is raised here."""
        result = await (self._queued(target, data) if self.max_batch > 1 else self._alone(target, data))
        if isinstance(result, ImageError):
            raise result
        return result

    async def _alone(self, target: Target, data: bytes) -> PredictionView | ImageError:
        """No batching (`max_batch=1`): every request in its own worker thread, all at once."""
        self.batch_sizes.append(1)
        telemetry.BATCH_SIZE.observe(1)
        (result,) = await run_in_threadpool(self._predict, target, [data])
        return result

    def _predict(self, target: Target, images: list[bytes]) -> list[PredictionView | ImageError]:
        return predictions.predict(
            self.ws,
            target.project_id,
            images,
            publish_name=target.publish_name,
            iteration_id=target.iteration_id,
            store=target.store,
        )

    async def _queued(self, target: Target, data: bytes) -> PredictionView | ImageError:
        queue = self._queues.setdefault(target, _Queue())
        future = asyncio.get_running_loop().create_future()
        queue.waiting.append((data, future))
        if queue.drains < self.parallel:
            queue.drains += 1
            task = asyncio.create_task(self._drain(target, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, target: Target, queue: _Queue) -> None:
        try:
            while queue.waiting:
                batch, queue.waiting = queue.waiting[: self.max_batch], queue.waiting[self.max_batch :]
                await self._run(target, batch)
        finally:
            queue.drains -= 1
            if not queue.waiting and not queue.drains:
                self._queues.pop(target, None)

    async def _run(self, target: Target, batch: list[tuple[bytes, asyncio.Future]]) -> None:
        self.batch_sizes.append(len(batch))
        telemetry.BATCH_SIZE.observe(len(batch))
        telemetry.QUEUE_DEPTH.set(sum(len(q.waiting) for q in self._queues.values()))
        try:
            results = await run_in_threadpool(self._predict, target, [data for data, _ in batch])
        except Exception as error:  # the target's error (no such project ...): every request in it gets it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # done: the client went away
                future.set_result(result)
