"""Progress lines for job logs.

A job's log is a file, not a terminal: a tqdm bar there is one ever-growing line of carriage returns
that `tail` shows only when it ends, and a loop with no output at all looks hung (on a real model a
training epoch or a scoring pass can take many CPU-minutes). Long loops here log plain lines instead,
"<what>: 12/40 batches (30%), 1m02s elapsed, ETA 2m25s, loss 1.234": after the first item (its time
is the first rate estimate), then at most every `interval` seconds, and once at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

log = logging.getLogger("debiaslab.core.progress")

T = TypeVar("T")
INTERVAL = 30.0  # seconds between lines


def duration(seconds: float) -> str:
    """1h02m, 3m05s, 12.3s."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Count finished items of a loop and log where it stands, at most every `interval` seconds."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        unit: str = "batches",
        *,
        interval: float = INTERVAL,
        done: int = 0,
        first: bool = True,
        final: bool = True,
        logger: logging.Logger | None = None,
    ):
        """first/final: log after the first item / at close (off for a loop that repeats often, e.g. a
        validation pass per epoch: it then logs only if it runs longer than `interval`)."""
        self.what, self.total, self.unit, self.interval = what, total, unit, interval
        self.first_line, self.final_line = first, final
        self.log = logger or log
        self.done = self.first = done  # a resumed loop: the rate counts only this run's items
        self.start = self.last = time.perf_counter()
        self.logged: int | None = None  # the count the last line showed
        self.info: dict = {}

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        count = f"{self.done}/{self.total} {self.unit}" if self.total else f"{self.done} {self.unit}"
        if self.total:
            count += f" ({100 * self.done / self.total:.0f}%)"
        parts = [count, f"{duration(elapsed)} elapsed"]
        ran = self.done - self.first
        if self.total and 0 < ran and self.done < self.total:
            parts.append(f"ETA {duration(elapsed / ran * (self.total - self.done))}")
        parts += [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.info.items()]
        return f"{self.what}: " + ", ".join(parts)

    def update(self, n: int = 1, **info) -> None:
        """`n` more items done; `info` (e.g. loss=...) is shown from the next line on."""
        self.done += n
        self.info.update(info)
        if (self.logged is None and self.first_line) or time.perf_counter() - self.last >= self.interval:
            self._emit()

    def close(self) -> None:
        """The final line, unless the last one already showed the final count."""
        if self.logged != self.done and (self.final_line or self.logged is not None):
            self._emit()

    def _emit(self) -> None:
        self.log.info(self.line())
        self.last, self.logged = time.perf_counter(), self.done

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()


def track(
    items: Iterable[T],
    what: str,
    total: int | None = None,
    unit: str = "batches",
    *,
    interval: float = INTERVAL,
    quiet: bool = False,
) -> Iterator[T]:
    """Yield `items`, logging progress after each (the loop body's time counts to its item). quiet: a
    loop inside a stage that logs its own progress; it logs only if it runs longer than `interval`."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    progress = Progress(what, total, unit, interval=interval, first=not quiet, final=not quiet)
    for item in items:
        yield item
        progress.update()
    progress.close()


def trainer_callback(what: str, interval: float = INTERVAL):
    """A transformers TrainerCallback logging "<what>: step i/n, ETA, loss" lines (TRL trainers and
    every other `Trainer`), since their own tqdm bar is unreadable in a log file."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        progress: Progress | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.progress = Progress(what, state.max_steps or None, "steps", interval=interval, done=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.progress is not None and logs and "loss" in logs:
                self.progress.info["loss"] = float(logs["loss"])

        def on_step_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.update(state.global_step - self.progress.done)

        def on_train_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.close()

    return _Progress()
