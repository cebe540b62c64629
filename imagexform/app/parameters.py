"""Parameter widgets generated from a model's metadata, so a new family needs no editor code.

Condition inputs become one slider per label (a StarGAN model's attributes), with the labels
of an exclusive group (hair colours) kept exclusive: raising one lowers the others. The
adjustments the model declares (strength, preserve colour) come next, then the output scale
of an upscaler, and tiling last.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from imagexform.family import ConditionSpec
from imagexform.modelinfo import ModelInfo
from imagexform.runtime.adjustments import MAX_OUTSCALE, PRESERVE_COLOR, STRENGTH, Adjustments

STEPS = 100  # slider positions across a condition's value range


class ValueSlider(QWidget):
    """A horizontal slider over ``low..high`` with its value shown beside it."""

    value_changed = Signal(float)

    def __init__(self, low: float, high: float, value: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.low, self.high = low, high
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.readout = QLabel()
        self.readout.setMinimumWidth(36)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider)
        layout.addWidget(self.readout)
        self.slider.valueChanged.connect(self._moved)
        self.set_value(value)

    def value(self) -> float:
        return self.low + (self.high - self.low) * self.slider.value() / STEPS

    def set_value(self, value: float) -> None:
        span = self.high - self.low
        position = round((value - self.low) / span * STEPS) if span else 0
        self.slider.setValue(min(max(position, 0), STEPS))
        self.readout.setText(f"{self.value():.2f}")

    def _moved(self) -> None:
        self.readout.setText(f"{self.value():.2f}")
        self.value_changed.emit(self.value())


def slider_labels(spec: ConditionSpec) -> tuple[str, ...]:
    """One name per value: the labels, or for an unlabelled input (a plain strength) its own
    name, numbered when it has several values."""
    if spec.labels:
        return spec.labels
    if len(spec.defaults) <= 1:
        return (spec.name,)
    return tuple(f"{spec.name} {index + 1}" for index in range(len(spec.defaults)))


class ConditionEditor(QGroupBox):
    """One condition input: a slider per label."""

    def __init__(self, spec: ConditionSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec.name.replace("_", " ").capitalize(), parent)
        self.spec = spec
        self.labels = slider_labels(spec)
        layout = QFormLayout(self)
        low, high = spec.value_range
        defaults = spec.defaults or (low,) * len(self.labels)
        self.sliders: dict[str, ValueSlider] = {}
        for label, default in zip(self.labels, defaults, strict=True):
            slider = ValueSlider(low, high, default)
            slider.value_changed.connect(lambda value, label=label: self._exclusive(label, value))
            layout.addRow(label.replace("_", " "), slider)
            self.sliders[label] = slider

    def values(self) -> list[float]:
        return [self.sliders[label].value() for label in self.labels]

    def set_values(self, values: Sequence[float]) -> None:
        for label, value in zip(self.labels, values, strict=True):
            slider = self.sliders[label]
            slider.blockSignals(True)
            slider.set_value(float(value))
            slider.blockSignals(False)

    def set_from_probabilities(self, probabilities: Sequence[float]) -> None:
        """A classifier's answer as slider positions: in an exclusive group only the most
        likely label is on, since a face has one hair colour."""
        values = dict(zip(self.labels, probabilities, strict=True))
        low, high = self.spec.value_range
        for group in self.spec.groups:
            best = max(group, key=lambda label: values[label])
            for label in group:
                values[label] = high if label == best else low
        for label in self.labels:
            if not any(label in group for group in self.spec.groups):
                values[label] = high if values[label] >= 0.5 else low
        self.set_values([values[label] for label in self.labels])

    def _exclusive(self, moved: str, value: float) -> None:
        low = self.spec.value_range[0]
        if value <= low:
            return
        for group in self.spec.groups:
            if moved in group:
                for label in group:
                    if label != moved and self.sliders[label].value() > low:
                        self.sliders[label].set_value(low)


class ParameterForm(QWidget):
    """What :meth:`RuntimeModel.transform` takes besides the image, as widgets."""

    changed = Signal()

    def __init__(self, info: ModelInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.conditions = {spec.name: ConditionEditor(spec) for spec in info.io.conditions}
        for editor in self.conditions.values():
            layout.addWidget(editor)
        form = QFormLayout()
        layout.addLayout(form)
        self.strength: ValueSlider | None = None
        self.preserve_color: QCheckBox | None = None
        if STRENGTH in info.io.adjustments:
            self.strength = ValueSlider(0.0, 1.0, 1.0)
            self.strength.setToolTip("Mix with the input: 1 is the model's output, 0 the input")
            form.addRow("Strength", self.strength)
        if PRESERVE_COLOR in info.io.adjustments:
            self.preserve_color = QCheckBox("Keep the photo's colours")
            form.addRow("Preserve colour", self.preserve_color)
        self.scale = info.io.scale
        self.outscale: QDoubleSpinBox | None = None
        if self.scale > 1:
            self.outscale = QDoubleSpinBox()
            self.outscale.setRange(1.0, MAX_OUTSCALE)
            self.outscale.setSingleStep(0.5)
            self.outscale.setPrefix("×")
            self.outscale.setValue(self.scale)
            self.outscale.setToolTip("Resize the result: a ×4 model's detail at ×2, for example")
            form.addRow("Output scale", self.outscale)
        self.tile = QSpinBox()
        self.tile.setRange(0, 4096)
        self.tile.setSingleStep(32)
        self.tile.setSpecialValueText("auto")
        self.tile.setSuffix(" px")
        self.tile.setValue(info.tile.tile_size)
        self.tile.setToolTip("Tile edge in input pixels: smaller tiles need less memory")
        form.addRow("Tile size", self.tile)
        for editor in self.conditions.values():
            for slider in editor.sliders.values():
                slider.value_changed.connect(self.changed)
        if self.strength is not None:
            self.strength.value_changed.connect(self.changed)
        if self.preserve_color is not None:
            self.preserve_color.toggled.connect(self.changed)
        if self.outscale is not None:
            self.outscale.valueChanged.connect(self.changed)
        self.tile.valueChanged.connect(self.changed)

    def condition_values(self) -> dict[str, list[float]]:
        return {name: editor.values() for name, editor in self.conditions.items()}

    def preset(self, name: str, probabilities: Sequence[float]) -> None:
        """Set condition ``name`` from a classifier's probabilities for the photo."""
        self.conditions[name].set_from_probabilities(probabilities)
        self.changed.emit()

    def adjustments(self) -> Adjustments:
        outscale = self.outscale.value() if self.outscale is not None else None
        return Adjustments(
            strength=self.strength.value() if self.strength is not None else 1.0,
            preserve_color=bool(self.preserve_color and self.preserve_color.isChecked()),
            outscale=None if outscale == self.scale else outscale,
        )

    def tile_size(self) -> int | None:
        return self.tile.value() or None
