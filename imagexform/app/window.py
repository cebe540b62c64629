"""The main window: the image view in the middle, models and parameters on the right, the
history below them; every long operation runs as a :class:`~imagexform.app.jobs.Job`."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QStandardPaths, Qt, QThreadPool, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QUndoView,
)

from imagexform.app.batch_dialog import BatchDialog
from imagexform.app.document import Document
from imagexform.app.jobs import Job, ModelCache
from imagexform.app.library import ModelLibrary
from imagexform.app.panel import ModelPanel
from imagexform.app.parameters import ParameterForm
from imagexform.app.qimages import from_qimage, to_qimage
from imagexform.app.running import Band, RunRequest, classify, preview, transform
from imagexform.app.settings import EditorSettings
from imagexform.app.video import FrameSlider, with_slider
from imagexform.app.view import CompareMode, ImageView
from imagexform.batch.formats import conform, encode_output
from imagexform.catalog import Entry, fetch
from imagexform.errors import UserError
from imagexform.io.images import write_bytes_atomic
from imagexform.io.video import is_media_name, is_video_name
from imagexform.runtime import Adjustments

OPEN_FILTER = (
    "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;"
    "Videos (*.mp4 *.m4v *.mkv *.mov *.webm *.avi *.gif);;All files (*)"
)
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF, 16-bit kept (*.tif *.tiff)"
LOSSY = (".jpg", ".jpeg", ".webp")
PREVIEW_DELAY_MS = 300  # parameter changes within this are previewed once
PRESET = "preset"  # the object name of a job asking the classifier for slider presets


class MainWindow(QMainWindow):
    def __init__(
        self, settings: EditorSettings | None = None, library: ModelLibrary | None = None
    ) -> None:
        super().__init__()
        self.settings = settings or EditorSettings()
        self.library = library or ModelLibrary(added=self.settings.added_models())
        self.document = Document(self)
        self.cache = ModelCache()
        self.pool = QThreadPool(self)
        # A run, a cancelled run finishing its tile and a download may overlap; none of them
        # should wait in a queue for another (the model's own threads do the work).
        self.pool.setMaxThreadCount(max(self.pool.maxThreadCount(), 3))
        # Saves one at a time, in the order asked: two saves to one file end with the later.
        self.save_pool = QThreadPool(self)
        self.save_pool.setMaxThreadCount(1)
        self.run_job: Job | None = None
        self.download_job: Job | None = None
        self.save_path: Path | None = None  # where Save writes this picture without asking
        self.last_error = ""
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, "imagexform", "", parent=self)
        self.batch: BatchDialog | None = None
        self._shown: dict[int, tuple[np.ndarray, QImage]] = {}

        self.setWindowTitle("imagexform")
        self.setAcceptDrops(True)
        self.view = ImageView()
        self.frames = FrameSlider(self.document)  # shown while a video is open (app/video.py)
        self.frames.failed.connect(self.show_error)
        self.setCentralWidget(with_slider(self.view, self.frames))
        self.panel = ModelPanel(self.library)
        self._dock("Models", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.history = QUndoView(self.document.undo_stack)
        self.history.setEmptyLabel("Original")
        self._dock("History", self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        self._status_bar()
        self._menus()
        self._connect()
        self.preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self.preview_timer.timeout.connect(self.preview_region)
        self._restore_settings()

    def _connect(self) -> None:
        self.document.changed.connect(self._document_changed)
        self.document.replaced.connect(self._picture_changed)
        self.document.replaced.connect(self._picture_replaced)
        self.document.undo_stack.indexChanged.connect(self._picture_changed)
        self.view.zoom_changed.connect(lambda zoom: self.zoom_label.setText(f"{zoom:.0%}"))
        self.view.viewport_changed.connect(self._schedule_preview)
        self.panel.apply_requested.connect(self.apply_model)
        self.panel.preview_toggled.connect(self._preview_toggled)
        self.panel.fast_preview.toggled.connect(self._schedule_preview)
        self.panel.preset_requested.connect(self.preset_from_photo)
        self.panel.add_requested.connect(self._add_model_dialog)
        self.panel.download_requested.connect(self.download)
        self.panel.failed.connect(self.show_error)
        self.panel.model_chosen.connect(self._model_chosen)
        self.panel.device.currentTextChanged.connect(self._device_chosen)

    def _restore_settings(self) -> None:
        """The device, model and window layout of the last session."""
        self.panel.device.setCurrentText(self.settings.device)
        self._device_chosen(self.panel.device.currentText())
        if self.settings.model:
            self.panel.select_path(Path(self.settings.model))
        geometry = self.settings.geometry()
        if geometry:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        state = self.settings.window_state()
        if state:
            self.restoreState(state)

    def _dock(self, title: str, widget: object, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.provider_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.progress, self.cancel_button, self.size_label, self.zoom_label):
            bar.addPermanentWidget(widget)
        bar.addPermanentWidget(self.provider_label)

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence.StandardKey | str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _menus(self) -> None:
        keys = QKeySequence.StandardKey
        file = self.menuBar().addMenu("&File")
        open_action = self._action(file, "&Open…", self.open_dialog, keys.Open)
        self.recent_menu = file.addMenu("Open &Recent")
        self._action(file, "&Paste as new image", self.paste, keys.Paste)
        save_action = self._action(file, "&Save", self.save_current, keys.Save)
        self._action(file, "Save &As…", self.save_dialog, keys.SaveAs)
        file.addSeparator()
        self._action(file, "&Batch process a folder…", self.batch_dialog, "Ctrl+B")
        file.addSeparator()
        self._action(file, "&Quit", self.close, keys.Quit)
        edit = self.menuBar().addMenu("&Edit")
        undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(keys.Undo)
        redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(keys.Redo)
        edit.addActions([undo, redo])
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Fit to window", self.view.fit, "Ctrl+0")
        self._action(view, "&Actual size (100%)", self.view.actual_size, "Ctrl+1")
        self._action(view, "Zoom &in", lambda: self.view.zoom_by(1.25), keys.ZoomIn)
        self._action(view, "Zoom &out", lambda: self.view.zoom_by(0.8), keys.ZoomOut)
        view.addSeparator()
        modes = QActionGroup(self)
        for mode, text in (
            (CompareMode.SLIDER, "Compare with &slider"),
            (CompareMode.SIDE_BY_SIDE, "Compare side &by side"),
            (CompareMode.TOGGLE, "Compare by &toggling"),
        ):
            action = self._action(view, text, lambda _=False, m=mode: self.view.set_mode(m))
            action.setCheckable(True)
            action.setChecked(mode == self.view.mode)
            modes.addAction(action)
        toggle = self._action(view, "Show &before / after", self.view.toggle_before, "Space")
        # Only while the image has focus: a focused button or field keeps its own Space.
        toggle.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.view.addAction(toggle)
        model = self.menuBar().addMenu("&Model")
        self._action(model, "&Add model file…", self._add_model_dialog)
        self._action(model, "A&pply", self.apply_model, "Ctrl+Return")
        self._action(model, "Pre&view visible region", self.preview_region, "Ctrl+P")
        self._action(model, "&Cancel run", self.cancel_run, "Escape")
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("Main")
        for action in (open_action, save_action, undo, redo):
            toolbar.addAction(action)
        self._recent_changed()

    # Opening and saving

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open image", self.settings.folder("open"), OPEN_FILTER
        )
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> bool:
        """Open ``path`` (a video as its first frame); a file that cannot be read is reported
        and the current image kept."""
        try:
            if is_video_name(path):
                self.frames.open(path)
            else:
                self.document.open(path)
                self.frames.close_video()
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.settings.set_folder("open", path.parent)
        self.settings.add_recent(path)
        self._recent_changed()
        self.setWindowTitle(f"{path.name} — imagexform")
        return True

    def paste(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.show_error("The clipboard holds no image")
            return
        self.frames.close_video()
        self.document.open_pixels(from_qimage(image), "pasted.png")
        self.setWindowTitle("pasted image — imagexform")

    def save_current(self) -> Job | None:
        """Write where this picture was saved last; the first save asks where (Save As)."""
        if self.save_path is None:
            self.save_dialog()
            return None
        return self.save(self.save_path, self.settings.quality)

    def suggested_save_path(self) -> Path:
        """Where Save As starts: the last save of this picture; for a first save, the opened
        photo's name with "-edited" beside it (overwriting the original takes the user typing
        its name), or a pasted image's name in the folder saved to last."""
        if self.save_path is not None:
            return self.save_path
        path = self.document.path
        if path is not None:
            return path.with_name(f"{path.stem}-edited{path.suffix}")
        pictures = QStandardPaths.PicturesLocation
        folder = self.settings.folder("save") or QStandardPaths.writableLocation(pictures)
        return Path(folder or Path.home()) / self.document.name

    def save_dialog(self) -> None:
        if self.document.image is None:
            return
        start = self.suggested_save_path()
        path, _ = QFileDialog.getSaveFileName(self, "Save image", str(start), SAVE_FILTER)
        if not path:
            return
        target = Path(path)
        quality = self.settings.quality
        if target.suffix.lower() in LOSSY:
            quality, ok = QInputDialog.getInt(self, "Quality", "Quality (1–100)", quality, 1, 100)
            if not ok:
                return
            self.settings.quality = quality
        self.save(target, quality)

    def save(self, path: Path, quality: int = 95) -> Job | None:
        """Write the current image to ``path`` in its extension's format, with the original's
        EXIF/ICC where the format holds them; the file appears whole or not at all.

        Encoding runs off the GUI thread: a 48-megapixel upscale takes over a second as PNG
        and ten as WebP. What is written is the image shown now, whatever is applied next."""
        image, metadata = self.document.image, self.document.metadata
        if image is None:
            return None

        def write(job: Job) -> Path:
            encoded = encode_output(path, conform(image, path.suffix), metadata, quality)
            write_bytes_atomic(path, encoded)
            return path

        self.save_path = path
        job = Job(write, self)
        job.succeeded.connect(self._saved)
        job.failed.connect(self.show_error)
        self.statusBar().showMessage(f"Saving {path}…")
        job.start(self.save_pool)
        return job

    def _picture_replaced(self) -> None:
        self.save_path = None
        self.view.setFocus()  # so Space compares at once, without a click on the image first

    def _saved(self, path: Path) -> None:
        self.settings.set_folder("save", path.parent)
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def _recent_changed(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent():
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_image(p))
        self.recent_menu.setEnabled(bool(self.settings.recent()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        paths = [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()]
        for path in paths:
            if path.suffix.lower() == ".onnx":
                self.add_model(path)
        images = [path for path in paths if is_media_name(path.name)]
        if images:
            self.open_image(images[0])
        elif not paths and data.hasImage():
            self.document.open_pixels(from_qimage(QImage(data.imageData())), "dropped.png")
        event.acceptProposedAction()

    # Models

    def _add_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add model", self.settings.folder("models"), "ONNX models (*.onnx)"
        )
        if path:
            self.add_model(Path(path))

    def add_model(self, path: Path) -> bool:
        try:
            self.library.add(path)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.settings.set_added_models(self.library.added)
        self.settings.set_folder("models", path.parent)
        self.panel.refresh(select=path)
        return True

    def _model_chosen(self, path: Path | None) -> None:
        if path is not None:
            self.settings.model = str(path)
        if self.run_job is not None and self.run_job.objectName() == PRESET:
            self._stop_run()  # its sliders are gone with the old model's form
        if self.panel.live.isChecked():
            self._schedule_preview()
        if self.panel.form is not None:
            self.panel.form.changed.connect(self._schedule_preview)

    def _device_chosen(self, device: str) -> None:
        self.settings.device = device
        self.provider_label.setText(f"device: {device}")

    def download(self, entry: Entry, file: Path | None = None) -> None:
        """Fetch and convert ``entry``; one without a direct download (a Google Drive link)
        converts the release ``file`` the user downloaded, asked for here when not given."""
        if self.download_job is not None:
            self.show_error("A download is already running")
            return
        if entry.manual and file is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, f"The downloaded file for {entry.name}", self.settings.folder("models")
            )
            if not chosen:
                return
            file = Path(chosen)
        job = Job(lambda job: fetch(entry.name, job.report, file=file), self)
        job.progress.connect(self._download_progress)
        job.succeeded.connect(lambda path: self.panel.refresh(select=path))
        job.failed.connect(self.show_error)
        job.cancelled.connect(lambda: self.statusBar().showMessage("Download cancelled", 5000))
        job.ended.connect(self._download_ended)
        self.download_job = job
        self._show_progress(
            f"Converting {entry.name}…" if file is not None else f"Downloading {entry.name}: %p%"
        )
        job.start(self.pool)

    def _download_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)

    def _download_ended(self) -> None:
        self.download_job = None
        self._hide_progress()

    # Running models

    def _request(self) -> RunRequest | None:
        path = self.panel.path
        if path is None:
            return None
        form = self.panel.form
        return RunRequest(
            path=path,
            device=self.panel.device.currentText(),
            conditions=form.condition_values() if form is not None else {},
            adjustments=form.adjustments() if form is not None else Adjustments(),
            tile_size=form.tile_size() if form is not None else None,
            fast_preview=self.panel.fast_preview.isChecked(),
        )

    def apply_model(self) -> None:
        """Run the chosen model on the whole image; the result becomes an undo step."""
        if self.document.image is None:
            self.show_error("Open an image first")
            return
        request = self._request()
        if request is None:
            self.show_error("Choose a model first")
            return
        image = self.document.image
        self.preview_timer.stop()
        self._stop_run()
        self.view.set_images(self._qimage(image), None, fit=False)
        job = Job(lambda job: transform(job, self.cache, request, image), self)
        job.partial.connect(self._slot(job, self._partial))
        job.succeeded.connect(self._slot(job, self._applied, request.path.stem))
        self._start_run(job, "tile %v of %m")

    def preview_region(self) -> None:
        """Run the model on the region in view only: parameter changes show in about a second
        however large the photo."""
        request = self._request()
        image = self.document.image
        if request is None or image is None:
            return
        self._stop_run()
        self.view.set_images(self._qimage(image), None, fit=False)
        region = self.view.visible_source_rect()
        if region is None:
            return
        screen_scale = self.view.zoom * self.view.devicePixelRatioF()
        job = Job(lambda job: preview(job, self.cache, request, image, region, screen_scale), self)
        job.partial.connect(self._slot(job, self._partial))
        job.succeeded.connect(self._slot(job, self._previewed, region))
        self._start_run(job, "preview: tile %v of %m")

    def _preview_toggled(self, live: bool) -> None:
        if live:
            self.preview_region()
        else:
            self.preview_timer.stop()
            self._stop_run()
            self._document_changed(fit=False)

    def _schedule_preview(self) -> None:
        if self.panel.live.isChecked() and self.document.image is not None:
            self.preview_timer.start()

    def preset_from_photo(self) -> None:
        classifier, form, path = self.panel.classifier, self.panel.form, self.panel.path
        if classifier is None or form is None or path is None or self.document.image is None:
            return
        try:
            info = self.library.describe(path).info
        except UserError as exc:  # the file went away since it was listed
            self.show_error(str(exc))
            return
        assert info is not None
        name = info.io.conditions[0].name
        image, device = self.document.image, self.panel.device.currentText()
        job = Job(lambda job: classify(job, self.cache, classifier, device, image), self)
        job.setObjectName(PRESET)
        job.partial.connect(self._slot(job, self._partial))
        job.succeeded.connect(self._slot(job, self._preset_found, form, name))
        self._start_run(job, "classifying…")

    def _preset_found(self, job: Job, form: ParameterForm, name: str, result: np.ndarray) -> None:
        """Set the sliders, unless another model (with another form) was chosen meanwhile."""
        if job is self.run_job and form is self.panel.form:
            form.preset(name, [float(value) for value in result])

    def _slot(self, job: Job, method: Callable[..., None], *bound: object) -> Callable[..., None]:
        """A slot for one of ``job``'s signals: ``method(job, *bound, *signal values)``.

        The job is held weakly: Qt keeps the connection as long as the job, so a slot holding
        the job would make a cycle through Qt that Python's collector cannot see."""
        ref = weakref.ref(job)

        def slot(*values: object) -> None:
            alive = ref()
            if alive is not None:  # never None where it could pass for "no run" below
                method(alive, *bound, *values)

        return slot

    def _start_run(self, job: Job, progress_format: str) -> None:
        job.failed.connect(self._slot(job, self._run_failed))
        job.cancelled.connect(self._slot(job, self._run_cancelled))
        job.ended.connect(self._slot(job, self._run_ended))
        job.progress.connect(self._slot(job, self._run_progress))
        self.run_job = job
        self._show_progress(progress_format)
        job.start(self.pool)

    def _stop_run(self) -> None:
        if self.run_job is not None:
            self.run_job.cancel()
            self.run_job = None
            self._hide_progress()

    def cancel(self) -> None:
        """Stop what runs: the model within one tile, a download within one chunk."""
        for job in (self.run_job, self.download_job):
            if job is not None:
                job.cancel()

    def cancel_run(self) -> None:
        """Escape: stop the model run only; a download goes on (the Cancel button stops it)."""
        if self.run_job is not None:
            self.run_job.cancel()

    def _run_progress(self, job: Job, done: int, total: int) -> None:
        if job is self.run_job:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _partial(self, job: Job, item: object) -> None:
        if job is not self.run_job:
            return
        if isinstance(item, str):
            self.provider_label.setText(f"device: {self.panel.device.currentText()} → {item}")
        elif isinstance(item, Band) and self.view.before is not None:
            width = self.view.before.width()
            top, height = item.first / item.scale, (item.end - item.first) / item.scale
            self.view.add_overlay(item.image, QRectF(0, top, width, height))

    def _applied(self, job: Job, label: str, result: np.ndarray) -> None:
        if job is self.run_job:
            self.run_job = None  # done: the history move below must not cancel it
            self.document.apply(result, label)

    def _picture_changed(self) -> None:
        """Another picture or history step: a run on the old pixels is stale."""
        self._stop_run()
        self._schedule_preview()

    def _previewed(self, job: Job, region: tuple[int, int, int, int], result: np.ndarray) -> None:
        if job is self.run_job:
            self.view.clear_overlays()
            self.view.add_overlay(to_qimage(result), QRectF(*region))

    def _run_failed(self, job: Job, message: str) -> None:
        if job is self.run_job:
            self._document_changed(fit=False)
        self.show_error(message)

    def _run_cancelled(self, job: Job) -> None:
        if job is self.run_job:
            self._document_changed(fit=False)
            self.statusBar().showMessage("Cancelled; the image is unchanged", 5000)

    def _run_ended(self, job: Job) -> None:
        if job is self.run_job:
            self.run_job = None
        self._hide_progress()

    def _show_progress(self, text_format: str) -> None:
        self.progress.setFormat(text_format)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)

    def _hide_progress(self) -> None:
        if self.run_job is None and self.download_job is None:
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)

    def batch_dialog(self) -> None:
        """Show the batch dialog: the one open (perhaps running) or, if none, a new one for
        the chosen model, deleted when closed."""
        if self.batch is None:
            self.batch = BatchDialog(self, self.settings, self._request())
            if self.frames.path is not None:  # the open video is the likely input
                self.batch.input.setText(str(self.frames.path))
            self.batch.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.batch.finished.connect(self._batch_closed)
        self.batch.open()
        self.batch.raise_()

    def _batch_closed(self) -> None:
        self.batch = None

    # Showing

    def _qimage(self, image: np.ndarray) -> QImage:
        """The displayed copy of ``image``, converted once however often it is shown."""
        key = id(image)
        if key not in self._shown:
            if len(self._shown) >= 4:
                self._shown.pop(next(iter(self._shown)))
            self._shown[key] = (image, to_qimage(image))
        return self._shown[key][1]

    def _document_changed(self, fit: bool | None = None) -> None:
        image = self.document.image
        if image is None:
            return
        stack = self.document.undo_stack
        fresh = stack.count() == 0 and fit is None
        previous = None
        if stack.index() > 0:
            previous = stack.command(stack.index() - 1).before
        if previous is None:
            self.view.set_images(self._qimage(image), None, fit=bool(fresh))
        else:
            self.view.set_images(self._qimage(previous), self._qimage(image), fit=False)
        height, width = image.shape[:2]
        depth = 16 if image.dtype == np.uint16 else 8
        self.size_label.setText(f"{width}×{height}, {depth}-bit")

    def show_error(self, message: str) -> None:
        """Tell the user without stopping anything: the status bar and a non-blocking box."""
        self.last_error = message
        self.statusBar().showMessage(message, 10000)
        self.error_box.setText(message)  # one box, reused: the latest error replaces the last
        self.error_box.open()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()
        for dialog in self.findChildren(BatchDialog):
            dialog.cancel_and_wait()
        # Runs stop within a tile and downloads within a chunk, so closing waits for them;
        # converting a download cannot stop midway, and closing does not wait minutes for it.
        self.pool.waitForDone(-1 if self.download_job is None else 5000)
        self.save_pool.waitForDone(-1)  # a save is the user's work: written whole first
        self.settings.set_geometry(bytes(self.saveGeometry().data()))
        self.settings.set_window_state(bytes(self.saveState().data()))
        self.settings.sync()
        super().closeEvent(event)
