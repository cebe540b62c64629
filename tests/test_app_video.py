"""The editor with a video: its first frame opens with a frame slider, a model previews on
the frame shown, and the batch dialog runs the whole video with progress and cancel."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("onnx")

import test_app
from batch_models import slow_model
from PySide6.QtCore import Qt
from test_app import WAIT_MS, choose
from video_clips import frame_times, frames, make_clip

# The editor's own fixtures: a window on a temporary home, and a folder with an invert model.
window = test_app.window
models = test_app.models


def test_a_video_opens_as_its_first_frame_and_the_slider_picks_others(qtbot, window, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 1.0)
    decoded = frames(clip)
    assert window.open_image(clip)
    assert window.frames.isVisible() and window.frames.slider.maximum() == 23
    assert np.array_equal(window.document.image, decoded[0])
    with qtbot.waitSignal(window.document.changed, timeout=WAIT_MS):
        window.frames.slider.setValue(13)
    assert np.array_equal(window.document.image, decoded[13])
    assert "frame 13 of 24" in window.frames.label.text()
    assert window.open_image(tmp_path / "missing.mp4") is False  # error shown, frame kept
    assert np.array_equal(window.document.image, decoded[13])


def test_a_model_previews_and_applies_on_the_frame_shown(qtbot, window, models, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 1.0)
    window.open_image(clip)
    window.frames.show_frame(5)
    choose(window, models / "invert.onnx")
    with qtbot.waitSignal(window.document.changed, timeout=WAIT_MS):
        window.apply_model()
    assert np.array_equal(window.document.image, 255 - frames(clip)[5])


def test_the_batch_dialog_runs_the_open_video_with_progress_and_cancel(
    qtbot, window, models, tmp_path
):
    clip = make_clip(tmp_path / "in" / "clip.mp4", 1.0)
    window.open_image(clip)
    choose(window, models / "invert.onnx")
    window.batch_dialog()
    dialog = window.batch
    assert dialog is not None and dialog.input.text() == str(clip)
    dialog.output.setText(str(tmp_path / "out"))
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.exit_code is not None, timeout=WAIT_MS)
    assert dialog.exit_code == 0
    assert frame_times(tmp_path / "out" / "clip.mp4") == frame_times(clip)
    report = json.loads(dialog.report_path.read_text())
    assert report["files"][0]["video"]["frames"] == 24

    dialog.request = replace(dialog.request, path=slow_model(tmp_path / "slow.onnx", 64, 8))
    long_clip = make_clip(tmp_path / "long" / "long.mp4", 4.0, audio=False)
    dialog.input.setText(str(long_clip))
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "video: frame" in dialog.summary.text(), timeout=WAIT_MS)
    qtbot.mouseClick(dialog.stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.exit_code == 130, timeout=WAIT_MS)
    assert not (tmp_path / "out" / "long.mp4").exists()
