"""Work off the GUI thread: a job runs one function in the thread pool and reports back
through Qt signals, which Qt queues onto the GUI thread, so widgets are only ever touched
there and the window keeps painting while a model runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal

from imagexform.errors import UserError
from imagexform.runtime import RuntimeModel, load_model


class JobCancelled(Exception):
    """Raised inside a job's work at the next progress report after Cancel."""


class Job(QObject):
    """``work(job)`` runs in the pool; it calls :meth:`report` (which raises once cancelled)
    and may emit :attr:`partial` with anything worth showing early.

    A job frees itself once it has ended: its work (and the image the work holds) is dropped
    in the worker, and the Qt object, with the connections whose slots may hold the job or
    an image, is deleted after the ``ended`` slots ran. Give it a parent so that Qt, not a
    Python reference, keeps it alive until then.
    """

    progress = Signal(int, int)  # done, total (tiles or bytes)
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()  # after any of the three above

    def __init__(self, work: Callable[[Job], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work: Callable[[Job], object] | None = work
        self._cancel = threading.Event()
        self.running = False

    def start(self, pool: QThreadPool | None = None) -> None:
        # Connected last, so every ended slot connected before start still sees the job.
        self.ended.connect(self.deleteLater)
        self.running = True
        (pool or QThreadPool.globalInstance()).start(self._run)

    def cancel(self) -> None:
        self._cancel.set()

    def report(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise JobCancelled
        self.progress.emit(done, total)

    def _run(self) -> None:
        work, self._work = self._work, None
        assert work is not None, "a job runs once"
        try:
            result = work(self)
        except JobCancelled:
            self.cancelled.emit()
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # the window shows it; the app must not die of it
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            if self._cancel.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            del work
            self.running = False
            self.ended.emit()


class ModelCache:
    """Loaded models by file, device and precision: a session is created on first use, in a
    job, and reused for every later run and preview. Only the last few stay loaded, since each
    holds its weights (and on a GPU, device memory)."""

    def __init__(self, keep: int = 3) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._models: dict[tuple[Path, float, str, str], RuntimeModel] = {}

    def get(
        self,
        path: Path,
        device: str,
        precision: str = "fp32",
        calibration: Sequence[np.ndarray] | None = None,
    ) -> RuntimeModel:
        """The model at ``precision`` (see :func:`~imagexform.runtime.load_model`); the editor
        keeps fp32 except for a fast preview, which prepares the fast verdict from
        ``calibration`` the first time."""
        mtime = path.stat().st_mtime if path.exists() else 0.0
        key = (path.resolve(), mtime, device, precision)
        with self._lock:
            model = self._models.pop(key, None)
            if model is None:
                model = load_model(
                    path, device=device, precision=precision, calibration=calibration
                )
            self._models[key] = model  # most recently used last
            while len(self._models) > self._keep:
                self._models.pop(next(iter(self._models)))
            return model
