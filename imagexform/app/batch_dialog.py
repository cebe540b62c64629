"""The batch command as a form: the chosen model and parameters over a folder, with
progress, the failures listed at the end, and the JSON report one click away."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QThreadPool, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from imagexform.app.jobs import Job
from imagexform.app.running import RunRequest
from imagexform.app.settings import EditorSettings
from imagexform.batch.discover import discover
from imagexform.batch.plan import DEFAULT_NAME, DEFAULT_QUALITY, FORMATS
from imagexform.batch.report import FileResult
from imagexform.batch.run import BatchObserver, BatchOptions, run_batch
from imagexform.errors import UserError
from imagexform.io.images import display_path

REPORT_NAME = "imagexform-report.json"


class BatchDialog(QDialog):
    """The batch runs in the dialog's own pool, so closing the dialog (Esc, the title bar,
    Close) or the window can cancel it and wait for exactly that batch to stop."""

    def __init__(
        self, parent: QWidget | None, settings: EditorSettings, request: RunRequest | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch process a folder or video")
        self.setMinimumWidth(520)
        self.settings = settings
        self.request = request
        self.job: Job | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.cancel_event = threading.Event()
        self.results: list[FileResult] = []
        self.exit_code: int | None = None

        layout = QVBoxLayout(self)
        layout.addLayout(self._form(settings, request))
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m files")
        self.summary = QLabel()
        self.failures = QListWidget()
        self.failures.setVisible(False)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.failures)
        layout.addLayout(self._buttons(request is not None))

    def _form(self, settings: EditorSettings, request: RunRequest | None) -> QFormLayout:
        self.input = QLineEdit(settings.folder("batch"))
        self.output = QLineEdit(settings.folder("batch-output"))
        self.recursive = QCheckBox("Include sub-folders")
        self.name = QLineEdit(DEFAULT_NAME)
        self.name.setToolTip("Fields: {stem} {ext} {model} {family} {scale}")
        self.skip_existing = QCheckBox("Skip files whose output exists")
        self.skip_existing.setChecked(True)
        self.format = QComboBox()
        self.format.addItems(["same", *FORMATS])
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(DEFAULT_QUALITY)
        model = request.path.name if request is not None else "none: choose one in the panel"
        form = QFormLayout()
        form.addRow("Model", QLabel(model))
        form.addRow("Input folder or video", self._with_browse(self.input))
        form.addRow("", self.recursive)
        form.addRow("Output folder", self._with_browse(self.output))
        form.addRow("File names", self.name)
        form.addRow("", self.skip_existing)
        form.addRow("Format", self.format)
        form.addRow("JPEG/WebP quality", self.quality)
        return form

    def _buttons(self, can_start: bool) -> QHBoxLayout:
        self.start = QPushButton("Start")
        self.start.setEnabled(can_start)
        self.start.clicked.connect(self.run)
        self.stop = QPushButton("Cancel")
        self.stop.clicked.connect(self._cancel_or_close)
        self.report_button = QPushButton("Open report")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self.open_report)
        buttons = QHBoxLayout()
        buttons.addWidget(self.report_button)
        buttons.addStretch()
        buttons.addWidget(self.stop)
        buttons.addWidget(self.start)
        return buttons

    def _with_browse(self, line: QLineEdit) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(line)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(line))
        layout.addWidget(browse)
        return row

    def _browse(self, line: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", line.text())
        if folder:
            line.setText(folder)

    @property
    def report_path(self) -> Path:
        return Path(self.output.text()) / REPORT_NAME

    def options(self) -> BatchOptions:
        assert self.request is not None
        request = self.request
        return BatchOptions(
            input_spec=self.input.text(),
            output=Path(self.output.text()),
            model=request.path,
            recursive=self.recursive.isChecked(),
            name=self.name.text(),
            output_format=self.format.currentText(),
            quality=self.quality.value(),
            overwrite=not self.skip_existing.isChecked(),
            assignments=tuple(
                f"{name}={','.join(f'{v:g}' for v in values)}"
                for name, values in request.conditions.items()
            ),
            strength=request.adjustments.strength,
            preserve_color=request.adjustments.preserve_color,
            outscale=request.adjustments.outscale,
            tile=request.tile_size,
            device=request.device,
            report=self.report_path,
            progress=False,
        )

    def run(self) -> None:
        if self.request is None or self.job is not None:
            return
        options = self.options()
        try:
            total = len(discover(options.input_spec, recursive=options.recursive).sources)
        except UserError as exc:
            self.summary.setText(str(exc))
            return
        self.settings.set_folder("batch", Path(options.input_spec))
        self.settings.set_folder("batch-output", options.output)
        self.results, self.exit_code = [], None
        self.cancel_event.clear()
        self.failures.clear()
        self.failures.setVisible(False)
        self.summary.setText("Starting…")
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.start.setEnabled(False)
        self.stop.setText("Cancel")
        observer = BatchObserver(
            on_result=self._told, cancel=self.cancel_event, on_frame=self._frame_told
        )
        job = Job(lambda job: run_batch(options, observer), self)
        job.partial.connect(self._file_done)
        job.progress.connect(self._frame_done)
        job.succeeded.connect(self._finished)
        job.failed.connect(self._failed)
        self.job = job
        job.start(self.pool)

    def _told(self, result: FileResult) -> None:
        """Called from the batch's threads: hand the result over to the GUI thread."""
        if self.job is not None:
            self.job.partial.emit(result)

    def _frame_told(self, done: int, total: int) -> None:
        """A video's progress, from the batch's thread: shown as text under the bar."""
        if self.job is not None:
            self.job.progress.emit(done, total)

    def _frame_done(self, done: int, total: int) -> None:
        self.summary.setText(f"video: frame {done} of {total}")

    def _file_done(self, result: FileResult) -> None:
        self.results.append(result)
        self.progress.setValue(len(self.results))
        self.summary.setText(f"{len(self.results)} file(s) done: {result.relative}")
        if result.status == "failed":
            self.failures.addItem(f"{display_path(result.source)}: {result.error}")

    def _finished(self, code: int) -> None:
        self.exit_code = code
        counts = {s: sum(r.status == s for r in self.results) for s in ("ok", "skipped", "failed")}
        state = " (cancelled)" if code == 130 else ""
        self.summary.setText(
            f"{counts['ok']} done, {counts['skipped']} skipped, {counts['failed']} failed{state}"
        )
        self.progress.setRange(0, max(len(self.results), 1))
        self.progress.setValue(len(self.results))
        self._ended()

    def _failed(self, message: str) -> None:
        self.exit_code = 2
        self.summary.setText(message)
        self._ended()

    def _ended(self) -> None:
        self.job = None
        self.failures.setVisible(self.failures.count() > 0)
        self.report_button.setEnabled(self.report_path.is_file())
        self.start.setEnabled(True)
        self.stop.setText("Close")

    def _cancel_or_close(self) -> None:
        if self.job is not None:
            self.cancel_event.set()
            self.summary.setText("Cancelling within one tile…")
        else:
            self.reject()

    def cancel_and_wait(self) -> None:
        """Cancel a running batch and wait until it has stopped (within one tile of its photo):
        a batch never writes on behind a closed dialog or window."""
        if self.job is not None:
            self.cancel_event.set()
            self.summary.setText("Cancelling within one tile…")
        self.pool.waitForDone(-1)

    def done(self, result: int) -> None:
        """Every way of closing the dialog ends here (Esc and the title bar reject it)."""
        self.cancel_and_wait()
        super().done(result)

    def open_report(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report_path)))
