"""The model panel: pick a model, read what it is, set its parameters, run it.

The panel owns no work: it says what the user chose (``apply_requested``,
``preview_toggled``, ``download_requested``...) and the window runs it.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from imagexform.app.library import ModelEntry, ModelLibrary
from imagexform.app.parameters import ParameterForm
from imagexform.architecture_text import architecture_summary
from imagexform.catalog.store import Entry, pins
from imagexform.convert.conversion import TRAIN_EXTRA, torch_installed
from imagexform.errors import UserError
from imagexform.runtime import DEVICES
from imagexform.runtime.modelfile import ModelFile

ORIGINS = {"yours": "", "shipped": " (shipped)", "added": " (added)", "catalog": " ↓"}


class ModelPanel(QWidget):
    model_chosen = Signal(object)  # Path | None
    apply_requested = Signal()
    preview_toggled = Signal(bool)
    preset_requested = Signal()
    add_requested = Signal()
    download_requested = Signal(object)  # a catalog Entry
    failed = Signal(str)

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.path: Path | None = None
        self.described: ModelFile | None = None
        self.form: ParameterForm | None = None
        self.classifier: Path | None = None

        self.models = QListWidget()
        self.models.setAccessibleName("Models")
        self.models.currentItemChanged.connect(self._selected)
        add = QPushButton("Add model…")
        add.clicked.connect(self.add_requested)
        self.details = QLabel("Choose a model")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.download = QPushButton("Download and convert")
        self.download.clicked.connect(self._download)
        self.direction = QComboBox()
        self.direction.activated.connect(self._direction_chosen)
        self.preset = QPushButton("Preset from photo")
        self.preset.setToolTip("Set the sliders to what the attribute classifier sees")
        self.preset.clicked.connect(self.preset_requested)
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.parameters = QScrollArea()
        self.parameters.setWidgetResizable(True)
        self.live = QPushButton("Live preview")
        self.live.setCheckable(True)
        self.live.setToolTip("Run the model on the visible region whenever a parameter changes")
        self.live.toggled.connect(self.preview_toggled)
        self.fast_preview = QCheckBox("Fast preview")
        self.fast_preview.setToolTip(
            "Preview at the fastest precision within 40 dB of full precision (bf16 or int8, "
            "measured once per model on the open photo); Apply stays full precision"
        )
        self.apply = QPushButton("Apply")
        self.apply.setDefault(True)
        self.apply.clicked.connect(self.apply_requested)

        self.options = options = QFormLayout()
        options.addRow("Direction", self.direction)
        options.addRow("Device", self.device)
        options.addRow("", self.fast_preview)
        buttons = QHBoxLayout()
        buttons.addWidget(self.live)
        buttons.addWidget(self.apply)
        layout = QVBoxLayout(self)
        layout.addWidget(self.models, 2)
        layout.addWidget(add)
        layout.addWidget(self.details)
        layout.addWidget(self.download)
        layout.addLayout(options)
        layout.addWidget(self.preset)
        layout.addWidget(self.parameters, 3)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self, select: Path | None = None) -> None:
        """List the models again (after a download or an added file), keeping the choice."""
        keep = select or self.path
        self.models.blockSignals(True)
        self.models.clear()
        current = None
        for entry in self.library.entries():
            item = QListWidgetItem(entry.name + ORIGINS[entry.origin])
            item.setData(Qt.ItemDataRole.UserRole, entry)
            if entry.catalog is not None:
                how = "no direct download" if entry.catalog.manual else "not downloaded yet"
                item.setToolTip(f"{entry.catalog.task} — {how}")
            elif entry.path is not None:
                item.setToolTip(str(entry.path))
            self.models.addItem(item)
            if keep is not None and entry.path is not None and entry.path == keep:
                current = item
        self.models.blockSignals(False)
        if current is not None:
            self.models.setCurrentItem(current)
        else:
            self._show(None)

    def select_path(self, path: Path) -> bool:
        for row in range(self.models.count()):
            entry = self.models.item(row).data(Qt.ItemDataRole.UserRole)
            if entry.path is not None and entry.path.resolve() == path.resolve():
                self.models.setCurrentRow(row)
                return True
        return False

    def entry(self) -> ModelEntry | None:
        item = self.models.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _selected(self, item: QListWidgetItem | None) -> None:
        self._show(item.data(Qt.ItemDataRole.UserRole) if item is not None else None)

    def _show(self, entry: ModelEntry | None) -> None:
        self.path, self.described, self.classifier = None, None, None
        self.download.setVisible(entry is not None and entry.catalog is not None)
        self.direction.clear()
        self._set_form(None)
        if entry is None:
            self.details.setText("Choose a model")
        elif entry.catalog is not None:
            catalog = entry.catalog
            size = catalog.size or _pinned_size(catalog.name)
            if catalog.manual:
                download = f"no direct download: {catalog.manual}"
                self.download.setText("Convert a downloaded file…")
            else:
                download = f"{size / 2**20:.1f} MB download" if size else "download size not known"
                self.download.setText("Download and convert")
            self.details.setText(
                f"<b>{html.escape(catalog.name)}</b> ({html.escape(catalog.family)})<br>"
                f"{html.escape(catalog.task)}<br>License: {html.escape(catalog.license or '?')}"
                f" · {html.escape(download)}<br>{html.escape(_conversion(catalog))}"
                f"<br><small>{html.escape(catalog.citation)}</small>"
            )
        else:
            assert entry.path is not None
            try:
                self.described = self.library.describe(entry.path)
            except UserError as exc:
                self.details.setText(f"<b>{html.escape(entry.name)}</b><br>cannot be used")
                self.failed.emit(str(exc))
            else:
                self.path = entry.path
                self._describe(entry.path, self.described)
        self._update_controls()
        self.model_chosen.emit(self.path)

    def _describe(self, path: Path, described: ModelFile) -> None:
        info = described.info
        size = described.size_bytes / 2**20
        if info is None:
            self.details.setText(
                f"<b>{html.escape(path.name)}</b><br>an ONNX model without imagexform metadata "
                f"({size:.1f} MB): run with defaults (0..1 range, measured scale)"
            )
            return
        source = info.provenance.get("source") or info.provenance.get("importer") or ""
        lines = [
            f"<b>{html.escape(info.title or path.stem)}</b>",
            f"{html.escape(info.family)} · ×{info.io.scale} · {size:.1f} MB",
            html.escape(info.description),
            html.escape(architecture_summary(info)),
        ]
        if source:
            lines.append(f"<small>from {html.escape(str(source))}</small>")
        self.details.setText("<br>".join(line for line in lines if line))
        variants = self.library.variants(path)
        for name, sibling in variants.items():
            self.direction.addItem(name, sibling)
            if sibling == path:
                self.direction.setCurrentIndex(self.direction.count() - 1)
        self.classifier = self.library.classifier_for(path)
        if described_images(described):
            self._set_form(ParameterForm(info))

    def _set_form(self, form: ParameterForm | None) -> None:
        self.form = form
        self.parameters.setWidget(form if form is not None else QWidget())

    def _update_controls(self) -> None:
        runnable = self.form is not None or (
            self.described is not None and self.described.info is None
        )
        self.apply.setEnabled(runnable)
        self.live.setEnabled(runnable)
        self.options.setRowVisible(self.direction, self.direction.count() > 1)
        self.preset.setVisible(self.classifier is not None)

    def _direction_chosen(self, index: int) -> None:
        sibling = self.direction.itemData(index)
        if sibling is not None and sibling != self.path:
            self.select_path(sibling)

    def _download(self) -> None:
        entry = self.entry()
        if entry is not None and entry.catalog is not None:
            self.download_requested.emit(entry.catalog)


def described_images(described: ModelFile) -> bool:
    """Whether a model answers with images (a classifier answers with numbers)."""
    output = described.outputs[0] if described.outputs else None
    return output is None or len(output.shape) == 4


def _conversion(entry: Entry) -> str:
    """How the download becomes a model here: which tells a runtime-only user up front that
    an architecture without a template needs the training extra."""
    if entry.template:
        return "converts in seconds, without torch"
    if torch_installed():
        return "converts with torch (about a minute)"
    return f"converting it needs the training extra: {TRAIN_EXTRA}"


def _pinned_size(name: str) -> int:
    """The size a first download pinned, 0 when unknown. A damaged pins file only hides the
    size here: the download itself names the file and refuses to go on."""
    try:
        return int(pins().get(name, {}).get("size", 0))
    except UserError:
        return 0
