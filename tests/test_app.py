"""The desktop editor driven like a user would, offscreen, with tiny real ONNX models."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("onnx")

from batch_models import ATTRIBUTES, attributes_model, classifier_model, invert_model, slow_model
from handmade import exif_block
from onnx import helper
from onnx_models import image_tensor, save
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer

from imagexform.app.library import ModelLibrary
from imagexform.app.settings import EditorSettings
from imagexform.app.view import CompareMode
from imagexform.app.window import MainWindow
from imagexform.family import IOSpec
from imagexform.io.images import read_image
from imagexform.io.metadata import ImageMetadata, extract_metadata, insert_metadata
from imagexform.modelinfo import OUTPUT, ModelInfo
from imagexform.runtime import load_model

WAIT_MS = 20000
CONVERT_MS = 180000


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    invert_model(folder / "invert.onnx")
    return folder


@pytest.fixture
def window(qtbot, tmp_path, models, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMAGEXFORM_CONFIG_DIR", str(tmp_path / "config"))
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("")
    monkeypatch.setenv("IMAGEXFORM_CATALOG", str(catalog))
    settings = EditorSettings(tmp_path / "config" / "editor.ini")
    main = MainWindow(settings, ModelLibrary(shipped=models))
    qtbot.addWidget(main)
    main.resize(900, 600)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


def photo(path: Path, size: tuple[int, int] = (48, 64), colour=None) -> Path:
    rng = np.random.default_rng(0)
    if colour is None:
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    else:
        image = np.zeros((*size, 3), np.uint8) + np.array(colour, np.uint8)
    cv2.imwrite(str(path), image)
    return path


def choose(window: MainWindow, path: Path) -> None:
    assert window.panel.select_path(path), f"{path.name} is not listed"
    assert window.panel.path == path


def saved(qtbot, job) -> None:
    """Wait for a save started by the window (it encodes off the GUI thread)."""
    assert job is not None
    qtbot.waitUntil(lambda: not job.running, timeout=WAIT_MS)


def apply_and_wait(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.document.changed, timeout=WAIT_MS):
        window.apply_model()


def test_open_apply_compare_undo_and_save(qtbot, window, models, tmp_path):
    source = photo(tmp_path / "grey.png", colour=(40, 40, 40))
    assert window.open_image(source)
    original = window.document.image.copy()
    choose(window, models / "invert.onnx")
    apply_and_wait(qtbot, window)
    expected = load_model(models / "invert.onnx").transform(original)
    assert np.array_equal(window.document.image, expected)
    assert window.view.after is not None and window.history.stack().count() == 1

    view = window.view
    view.fit()
    line = QPoint(int(view.slider * view.width()), view.height() // 2)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=line)
    qtbot.mouseMove(view, QPoint(view.width() // 4, view.height() // 2))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(view.width() // 4, 0))
    assert view.slider == pytest.approx(0.25, abs=0.02)
    shown = view.grab().toImage()
    middle = view.height() // 2
    assert shown.pixelColor(view.width() // 8, middle).red() == 40  # before, left of the line
    assert shown.pixelColor(view.width() * 3 // 4, middle).red() == 215  # after, right of it
    view.set_mode(CompareMode.SIDE_BY_SIDE)
    shown = view.grab().toImage()
    assert shown.pixelColor(view.width() // 4 + 1, middle).red() == 40
    assert shown.pixelColor(view.width() * 3 // 4 + 1, middle).red() == 215
    view.set_mode(CompareMode.TOGGLE)
    assert view.grab().toImage().pixelColor(view.width() // 8, middle).red() == 215
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert view.grab().toImage().pixelColor(view.width() // 8, middle).red() == 40

    window.document.undo_stack.undo()
    assert np.array_equal(window.document.image, original)
    window.document.undo_stack.redo()
    target = tmp_path / "saved.png"
    saved(qtbot, window.save(target))
    assert np.array_equal(read_image(target), expected)
    assert window.settings.recent() == [source]


def test_save_keeps_exif_and_writes_jpeg_at_the_chosen_quality(qtbot, window, tmp_path):
    encoded = cv2.imencode(".jpg", np.full((32, 48, 3), 90, np.uint8))[1].tobytes()
    exif = exif_block(orientation=1, pixel_size=(48, 32))
    source = tmp_path / "camera.jpg"
    source.write_bytes(insert_metadata(encoded, ImageMetadata(exif=exif)))
    assert window.open_image(source)
    small, large = tmp_path / "q10.jpg", tmp_path / "q95.jpg"
    noisy = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    window.document.apply(noisy, "noise")
    saved(qtbot, window.save(small, quality=10))
    saved(qtbot, window.save(large, quality=95))
    assert small.stat().st_size < large.stat().st_size

    # What is written is what was shown when asked, whatever is applied meanwhile.
    later = tmp_path / "later.png"
    job = window.save(later)
    window.document.apply(np.zeros_like(noisy), "black")
    saved(qtbot, job)
    assert np.array_equal(read_image(later), noisy)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    saved(qtbot, window.save(blocker / "x.png"))
    assert "cannot write" in window.last_error and not (blocker / "x.png").exists()
    assert extract_metadata(small.read_bytes()).exif is not None


def test_face_edit_parameters_come_from_metadata_and_preset_from_the_classifier(
    qtbot, window, models, tmp_path
):
    attributes_model(models / "faces.onnx")
    classifier_model(models / "faces-classifier.onnx")
    window.panel.refresh()
    choose(window, models / "faces.onnx")
    form = window.panel.form
    editor = form.conditions["attributes"]
    assert list(editor.sliders) == list(ATTRIBUTES.labels)
    assert editor.values() == pytest.approx(list(ATTRIBUTES.defaults))
    editor.sliders["Blond_Hair"].set_value(1.0)  # hair colours are exclusive
    assert editor.values() == pytest.approx([0.0, 1.0, 0.0])
    assert form.strength is None and form.preserve_color is None

    assert window.panel.classifier == models / "faces-classifier.onnx"
    assert window.panel.preset.isVisibleTo(window.panel)
    editor.set_values([1.0, 0.0, 0.0])
    window.open_image(photo(tmp_path / "cyan.png", colour=(255, 255, 0)))  # BGR: cyan
    with qtbot.waitSignal(form.changed, timeout=WAIT_MS):
        window.preset_from_photo()
    assert editor.values() == pytest.approx([0.0, 1.0, 1.0])

    apply_and_wait(qtbot, window)
    model = load_model(models / "faces.onnx")
    original = window.document.undo_stack.command(0).before
    expected = model.transform(original, {"attributes": [0.0, 1.0, 1.0]})
    assert np.array_equal(window.document.image, expected)


def start_with_a_slow_model(window: MainWindow, models: Path, photo_path: Path, edge: int) -> None:
    """A model with real work per pixel, in 64-pixel tiles: a run of many tiles."""
    slow_model(models / "slow.onnx", width=32)
    window.panel.refresh()
    choose(window, models / "slow.onnx")
    window.panel.form.tile.setValue(64)
    window.open_image(photo(photo_path, size=(edge, edge)))


def test_cancel_stops_a_long_run_and_the_window_stays_responsive(qtbot, window, models, tmp_path):
    start_with_a_slow_model(window, models, tmp_path / "big.png", 1024)
    original = window.document.image
    ticks = []
    timer = QTimer(window, interval=20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    window.apply_model()
    job = window.run_job
    assert job is not None and job.running
    # While the model runs, the event loop turns, finished tiles show, and the UI reacts.
    qtbot.waitUntil(lambda: len(ticks) >= 5 and bool(window.view.overlays), timeout=WAIT_MS)
    window.view.set_slider(0.3)
    assert window.view.slider == 0.3
    assert job.running and window.progress.isVisible() and window.progress.value() > 0
    total = window.progress.maximum()
    with qtbot.waitSignal(job.cancelled, timeout=WAIT_MS):
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run_job is None, timeout=WAIT_MS)
    assert window.progress.value() < total
    assert window.document.image is original and window.document.undo_stack.count() == 0
    assert not window.view.overlays and not window.progress.isVisible()


def test_preview_runs_only_the_visible_region(qtbot, window, models, tmp_path):
    window.open_image(photo(tmp_path / "photo.png", size=(300, 400)))
    choose(window, models / "invert.onnx")
    window.view.zoom_at(4.0, QPoint(0, 0))
    region = window.view.visible_source_rect()
    x, y, width, height = region
    assert width < 400 and height < 300
    window.preview_region()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=WAIT_MS)
    (overlay, rect) = window.view.overlays[0]
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (x, y, width, height)
    full = load_model(models / "invert.onnx").transform(window.document.image)
    shown = overlay.convertToFormat(overlay.Format.Format_RGB888)
    pixel = shown.pixelColor(5, 7)
    assert (pixel.red(), pixel.green(), pixel.blue()) == tuple(full[y + 7, x + 5])
    assert window.document.undo_stack.count() == 0  # a preview is not an edit


def test_a_zoomed_out_preview_runs_at_screen_resolution(qtbot, window, models, tmp_path):
    from onnx_models import upscaler

    path = upscaler(models / "x4.onnx", 4)
    window.panel.refresh()
    choose(window, path)
    window.open_image(photo(tmp_path / "large.png", size=(1200, 1600)))
    region = window.view.visible_source_rect()
    assert region == (0, 0, 1600, 1200)  # fitted: the whole photo is in view
    window.preview_region()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=WAIT_MS)
    (overlay, rect) = window.view.overlays[0]
    on_screen = 1600 * window.view.zoom * window.view.devicePixelRatioF()
    assert rect.width() == 1600 and abs(overlay.width() - on_screen) <= 2  # not 6400 wide


def test_bad_inputs_show_an_error_and_keep_the_state(qtbot, window, models, tmp_path):
    good = photo(tmp_path / "good.png")
    window.open_image(good)
    image = window.document.image
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 10)
    assert not window.open_image(broken)
    assert "broken.png" in window.last_error and window.error_box.isVisible()
    assert window.document.image is image and window.document.path == good

    not_a_model = tmp_path / "notes.onnx"
    not_a_model.write_text("hello")
    assert not window.add_model(not_a_model)
    assert "notes.onnx" in window.last_error
    assert all(e.path != not_a_model for e in window.library.entries())

    bad = save(
        models / "bad.onnx",
        [helper.make_node("Neg", ["pixels"], [OUTPUT])],
        info=ModelInfo(family="broken", io=IOSpec()),
        inputs=[image_tensor("pixels")],
    )
    window.panel.refresh()
    choose(window, bad)
    window.apply_model()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=WAIT_MS)
    assert "bad.onnx" in window.last_error and "image" in window.last_error
    assert window.document.image is image and window.isVisible()


def test_batch_dialog_runs_the_folder_and_lists_failures(qtbot, window, models, tmp_path):
    from imagexform.app.batch_dialog import BatchDialog

    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(3):
        photo(folder / f"{index}.png")
    (folder / "3.png").write_bytes(b"garbage")
    choose(window, models / "invert.onnx")
    dialog = BatchDialog(window, window.settings, window._request())
    qtbot.addWidget(dialog)
    dialog.input.setText(str(folder))
    dialog.output.setText(str(tmp_path / "out"))
    dialog.format.setCurrentText("webp")
    qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.exit_code is not None, timeout=WAIT_MS)
    assert dialog.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "out").glob("*.webp")) == [
        "0.webp",
        "1.webp",
        "2.webp",
    ]
    assert dialog.failures.count() == 1 and "3.png" in dialog.failures.item(0).text()
    assert dialog.report_button.isEnabled() and dialog.report_path.is_file()
    assert dialog.progress.value() == dialog.progress.maximum() == 4


def test_settings_persist_model_device_and_folders(qtbot, tmp_path, models, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMAGEXFORM_CATALOG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    ini = tmp_path / "editor.ini"
    first = MainWindow(EditorSettings(ini), ModelLibrary(shipped=models))
    qtbot.addWidget(first)
    first.open_image(photo(tmp_path / "a.png"))
    choose(first, models / "invert.onnx")
    first.panel.device.setCurrentText("cpu")
    first.close()
    second = MainWindow(EditorSettings(ini), ModelLibrary(shipped=models))
    qtbot.addWidget(second)
    assert second.panel.path == models / "invert.onnx"
    assert second.panel.device.currentText() == "cpu"
    assert second.settings.folder("open") == str(tmp_path)
    assert [a.text() for a in second.recent_menu.actions()] == [str(tmp_path / "a.png")]


def test_the_editor_runs_a_model_without_importing_torch(tmp_path, models):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "IMAGEXFORM_CONFIG_DIR": str(tmp_path),
        "IMAGEXFORM_HOME": str(tmp_path),
    }
    image = photo(tmp_path / "photo.png")
    script = Path(__file__).with_name("editor_run.py")
    done = subprocess.run(
        [sys.executable, str(script), str(models / "invert.onnx"), str(image)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["steps"] == 1 and report["heavy"] == [], report


def test_dropping_files_adds_models_and_opens_photos(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    extra = invert_model(tmp_path / "dropped.onnx")
    picture = photo(tmp_path / "dropped.png")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(extra)), QUrl.fromLocalFile(str(picture))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.panel.path == extra and window.document.path == picture
    assert window.settings.added_models() == [extra]


def test_cyclegan_directions_and_chained_steps(qtbot, window, models, tmp_path):
    from batch_models import info

    for variant in ("A2B", "B2A"):
        described = info("cyclegan")
        described.variant = variant
        invert_model(models / f"horses-{variant}.onnx", described)
    window.panel.refresh()
    choose(window, models / "horses-A2B.onnx")
    direction = window.panel.direction
    assert [direction.itemText(i) for i in range(direction.count())] == ["A2B", "B2A"]
    assert window.panel.options.isRowVisible(direction)
    direction.activated.emit(1)
    assert window.panel.path == models / "horses-B2A.onnx"

    window.open_image(photo(tmp_path / "horse.png"))
    original = window.document.image
    apply_and_wait(qtbot, window)
    apply_and_wait(qtbot, window)  # inverting twice chains back to the photo
    assert window.document.undo_stack.count() == 2
    assert np.array_equal(window.document.image, original)
    assert "CPUExecutionProvider" in window.provider_label.text()


def test_live_preview_follows_parameter_changes(qtbot, window, models, tmp_path):
    from batch_models import strength_model

    path = strength_model(models / "strong.onnx")
    window.panel.refresh()
    choose(window, path)
    window.open_image(photo(tmp_path / "photo.png", size=(64, 64)))
    window.panel.live.setChecked(True)
    qtbot.waitUntil(lambda: window.run_job is None and bool(window.view.overlays), timeout=WAIT_MS)
    first = window.view.overlays[0][0].copy()
    editor = next(iter(window.panel.form.conditions.values()))
    label = next(iter(editor.sliders))
    editor.sliders[label].set_value(editor.spec.value_range[0])

    def previewed_again() -> bool:
        overlays = window.view.overlays
        return window.run_job is None and bool(overlays) and overlays[0][0] != first

    qtbot.waitUntil(previewed_again, timeout=WAIT_MS)
    window.panel.live.setChecked(False)
    assert not window.view.overlays and window.document.undo_stack.count() == 0


def test_an_upscaler_offers_output_scale_and_tiles(qtbot, window, models, tmp_path):
    from onnx_models import upscaler

    path = upscaler(models / "x4.onnx", 4)
    window.panel.refresh()
    choose(window, path)
    form = window.panel.form
    assert form.outscale is not None and form.outscale.value() == 4
    assert form.adjustments().outscale is None
    form.outscale.setValue(2)
    form.tile.setValue(16)
    window.open_image(photo(tmp_path / "small.png", size=(40, 56)))
    original = window.document.image
    apply_and_wait(qtbot, window)
    assert window.document.image.shape == (80, 112, 3)
    full = load_model(path).transform(original)
    assert np.array_equal(
        window.document.image, cv2.resize(full, (112, 80), interpolation=cv2.INTER_AREA)
    )


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_qt_calls_that_return_nothing_keep_none_alive(qtbot):
    """PySide6 6.12.0 dropped a reference to None on every call returning nothing; on Python
    3.11 the editor then aborted (``none_dealloc``) after some ten thousand calls, e.g. while
    an OpenVINO model compiled (pyproject.toml excludes that version)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        QCoreApplication.processEvents()
    assert sys.getrefcount(None) >= before - 100  # other code may let go of a few


def test_app_command_is_listed(tmp_path):
    from click.testing import CliRunner

    from imagexform.cli import cli

    result = CliRunner().invoke(cli, ["app", "--help"])
    assert result.exit_code == 0 and "IMAGE" in result.output


def test_opening_another_photo_drops_the_run_on_the_old_one(qtbot, window, models, tmp_path):
    start_with_a_slow_model(window, models, tmp_path / "big.png", 768)
    window.apply_model()
    job = window.run_job
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=WAIT_MS)
    window.open_image(photo(tmp_path / "next.png"))
    fresh = window.document.image
    qtbot.waitUntil(lambda: not job.running, timeout=WAIT_MS)
    qtbot.wait(50)  # what the old job emitted last has been delivered
    assert window.document.image is fresh and window.document.undo_stack.count() == 0
    assert window.run_job is None and not window.progress.isVisible()


def select_catalog_model(window, name: str) -> None:
    """Reread the catalog and select its not-yet-installed entry ``name`` in the panel."""
    window.panel.refresh()
    items = [window.panel.models.item(i) for i in range(window.panel.models.count())]
    (row,) = [i for i, item in enumerate(items) if item.text() == f"{name} ↓"]
    window.panel.models.setCurrentRow(row)


def test_the_panel_downloads_a_catalog_model_and_can_cancel(qtbot, window, tmp_path):
    pytest.importorskip("torch")  # converting a published checkpoint needs the train extra
    import threading

    from release_server import Files, serve_files

    with serve_files() as url:
        (tmp_path / "catalog.toml").write_text(
            f'[[model]]\nname = "zebra"\nfamily = "pix2pix"\ntask = "horse to zebra"\n'
            f'url = "{url}/g.pth"\nlicense = "BSD"\n'
        )
        select_catalog_model(window, "zebra")
        assert window.panel.download.isVisible() and "BSD" in window.panel.details.text()
        assert "download size not known" in window.panel.details.text()
        assert "converts with torch (about a minute)" in window.panel.details.text()

        Files.pause, Files.pause_after = threading.Event(), 1000  # a slow connection
        window.panel.download.click()
        qtbot.waitUntil(lambda: window.progress.value() == 1000, timeout=WAIT_MS)
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
        Files.pause.set()
        qtbot.waitUntil(lambda: window.download_job is None, timeout=WAIT_MS)
        (part,) = (tmp_path / "home" / "downloads").iterdir()
        kept = part.stat().st_size
        assert kept >= 1000 and not (tmp_path / "home" / "models").exists()

        Files.pause = None
        window.panel.download.click()
        # Converting imports torch and exports with a parity check: slow on a busy machine.
        qtbot.waitUntil(lambda: window.download_job is None, timeout=CONVERT_MS)
    installed = tmp_path / "home" / "models" / "zebra.onnx"
    assert installed.is_file() and window.panel.path == installed, window.last_error
    assert Files.ranges == [f"bytes={kept}-"] and not part.exists()
    assert window.panel.models.currentItem().text() == "zebra"


def test_the_panel_says_which_catalog_models_convert_without_torch(window, tmp_path):
    (tmp_path / "catalog.toml").write_text(
        '[[model]]\nname = "candy"\nfamily = "style"\ntask = "restyle"\n'
        'url = "https://example.invalid/candy.pth"\ntemplate = "transformer-net"\n'
    )
    select_catalog_model(window, "candy")
    assert "converts in seconds, without torch" in window.panel.details.text()


def test_a_catalog_model_without_a_direct_download_converts_the_users_file(qtbot, window, tmp_path):
    pytest.importorskip("torch")
    from release_server import saved

    from imagexform.catalog import find
    from imagexform.nn import ResnetGenerator

    (tmp_path / "catalog.toml").write_text(
        '[[model]]\nname = "drive"\nfamily = "pix2pix"\ntask = "photo to painting"\n'
        'url = "https://drive.example/g.pth"\nlicense = "BSD"\n'
        'manual = "the README links it on Google Drive only"\n'
    )
    select_catalog_model(window, "drive")
    assert "Google Drive only" in window.panel.details.text()
    assert window.panel.download.text() == "Convert a downloaded file…"

    release = tmp_path / "g.pth"
    release.write_bytes(saved(ResnetGenerator(3, 3, ngf=4, norm="instance").state_dict()))
    window.download(find("drive"), file=release)
    qtbot.waitUntil(lambda: window.download_job is None, timeout=CONVERT_MS)
    installed = tmp_path / "home" / "models" / "drive.onnx"
    assert installed.is_file() and window.panel.path == installed, window.last_error
    assert release.is_file()  # the user's file is theirs: converted, never moved or deleted


def test_a_damaged_pins_file_leaves_the_catalog_entry_listed(qtbot, window, tmp_path):
    (tmp_path / "catalog.toml").write_text(
        '[[model]]\nname = "zebra"\nfamily = "pix2pix"\ntask = "horse to zebra"\n'
        'url = "https://example.org/g.pth"\nlicense = "BSD"\n'
    )
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "pins.json").write_text("{not json")
    select_catalog_model(window, "zebra")
    assert "download size not known" in window.panel.details.text()
    assert window.panel.download.isVisible()


def test_paste_opens_the_clipboard_image(window):
    from PySide6.QtGui import QGuiApplication

    from imagexform.app.qimages import to_qimage

    pixels = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    QGuiApplication.clipboard().setImage(to_qimage(pixels))
    window.paste()
    assert np.array_equal(window.document.image, pixels)
    QGuiApplication.clipboard().clear()
    window.paste()
    assert "clipboard holds no image" in window.last_error
    assert np.array_equal(window.document.image, pixels)


# Lifecycle: jobs, saves, dialogs and closing


def test_finished_jobs_and_the_pixels_they_ran_on_are_freed(qtbot, window, models, tmp_path):
    window.open_image(photo(tmp_path / "first.png"))
    choose(window, models / "invert.onnx")
    first = weakref.ref(window.document.image)
    with qtbot.waitSignal(window.document.changed, timeout=WAIT_MS):
        window.apply_model()
        jobs = [weakref.ref(window.run_job)]
    jobs.append(weakref.ref(window.save(tmp_path / "saved.png")))
    window.save_pool.waitForDone()
    for index in range(5):  # the history and the display cache let go of the first photo
        window.open_image(photo(tmp_path / f"next{index}.png", colour=(index, 0, 0)))

    def freed() -> bool:  # once the jobs' last signals and their deletion are delivered
        gc.collect()
        return [job() for job in jobs] == [None, None] and first() is None

    qtbot.waitUntil(freed, timeout=WAIT_MS)


def test_two_saves_to_one_file_end_with_the_later(qtbot, window, tmp_path):
    window.open_image(photo(tmp_path / "noise.png", size=(1500, 1500)))  # slow to encode
    target = tmp_path / "out.png"
    earlier = window.save(target)
    window.document.apply(np.zeros_like(window.document.image), "black")  # quick to encode
    later = window.save(target)
    saved(qtbot, earlier)
    saved(qtbot, later)
    assert np.array_equal(read_image(target), window.document.image)


def start_a_slow_batch(window: MainWindow, models: Path, tmp_path: Path, name: str):
    """The batch dialog running six photos through a slow model; returns it and its job."""
    slow_model(models / "slow.onnx", width=32, layers=8)
    window.panel.refresh()
    choose(window, models / "slow.onnx")
    folder = tmp_path / name
    folder.mkdir()
    for index in range(6):
        photo(folder / f"{index}.png", size=(384, 384))
    window.batch_dialog()
    dialog = window.batch
    dialog.input.setText(str(folder))
    dialog.output.setText(str(tmp_path / f"{name}-out"))
    dialog.run()
    assert dialog.job is not None and dialog.job.running
    return dialog, dialog.job


def test_closing_the_batch_dialog_or_the_window_stops_the_batch(qtbot, window, models, tmp_path):
    dialog, job = start_a_slow_batch(window, models, tmp_path, "first")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not job.running  # cancelled, and waited for, within one tile of the photo
    written = sorted((tmp_path / "first-out").glob("*.png"))
    assert len(written) < 6
    qtbot.wait(300)
    assert sorted((tmp_path / "first-out").glob("*.png")) == written
    assert window.batch is None  # closed and deleted: the next one is new

    _, job = start_a_slow_batch(window, models, tmp_path, "second")
    window.close()
    assert not job.running and len(list((tmp_path / "second-out").glob("*.png"))) < 6


def test_a_preset_finishing_after_another_model_was_chosen_is_dropped(
    qtbot, window, models, tmp_path
):
    attributes_model(models / "faces.onnx")
    classifier_model(models / "faces-classifier.onnx")
    window.panel.refresh()
    choose(window, models / "faces.onnx")
    window.open_image(photo(tmp_path / "cyan.png", colour=(255, 255, 0)))
    window.preset_from_photo()
    job = window.run_job
    choose(window, models / "invert.onnx")  # deletes the form the preset was for
    assert window.run_job is None
    choose(window, models / "faces.onnx")  # a new form, which the old preset must not touch
    qtbot.waitUntil(lambda: not job.running, timeout=WAIT_MS)
    qtbot.wait(50)
    editor = window.panel.form.conditions["attributes"]
    assert editor.values() == pytest.approx(list(ATTRIBUTES.defaults))
    assert window.last_error == ""


def test_zoom_in_keeps_the_middle_of_a_resized_view(qtbot, window, tmp_path):
    window.open_image(photo(tmp_path / "wide.png", size=(400, 600)))
    view = window.view
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: view.width() > 1000)
    middle = QPointF(view.width() / 2, view.height() / 2)
    before = view.to_scene(middle)
    zoom = view.zoom
    menu_action(window, "Zoom &in").trigger()
    assert view.zoom == pytest.approx(zoom * 1.25)
    after = view.to_scene(middle)
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()))


def menu_action(window: MainWindow, text: str):
    (action,) = [
        action
        for menu in window.menuBar().actions()
        for action in menu.menu().actions()
        if action.text() == text
    ]
    return action


def test_bands_of_a_model_without_metadata_land_on_the_photo(qtbot, window, models, tmp_path):
    from onnx_models import upscaler

    path = upscaler(models / "x2.onnx", 2, metadata=False)
    window.panel.refresh()
    choose(window, path)
    assert window.library.describe(path).info is None
    window.open_image(photo(tmp_path / "small.png", size=(48, 64)))
    bands = []  # where the view drew each band, read after the window's own slot ran
    with qtbot.waitSignal(window.document.changed, timeout=WAIT_MS):
        window.apply_model()
        window.run_job.partial.connect(
            lambda item: bands.extend(rect for _, rect in window.view.overlays)
        )
    assert bands
    assert all(rect.width() == 64 and rect.bottom() <= 48 for rect in bands)
    assert max(rect.bottom() for rect in bands) == 48  # the last band reaches the bottom


def test_a_model_deleted_after_listing_is_an_error_not_a_crash(qtbot, window, models, tmp_path):
    attributes_model(models / "faces.onnx")
    classifier_model(models / "faces-classifier.onnx")
    window.panel.refresh()
    window.open_image(photo(tmp_path / "photo.png"))
    image = window.document.image
    choose(window, models / "invert.onnx")
    (models / "invert.onnx").unlink()
    window.panel.apply.click()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=WAIT_MS)
    assert "invert.onnx" in window.last_error and window.error_box.isVisible()

    choose(window, models / "faces.onnx")
    (models / "faces.onnx").unlink()
    window.last_error = ""
    window.preset_from_photo()
    assert "faces.onnx" in window.last_error and window.run_job is None
    assert window.document.image is image and window.document.undo_stack.count() == 0


def suggested_by_save(qtbot, window: MainWindow) -> Path:
    """What the Save As dialog that Save opens offers, read off the open dialog (then closed)."""
    from PySide6.QtWidgets import QApplication, QFileDialog

    offered = []

    def read_and_close() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):  # not open yet: look again once it may be
            QTimer.singleShot(10, read_and_close)
            return
        offered.append(Path(dialog.selectedFiles()[0]))
        dialog.reject()

    QTimer.singleShot(0, read_and_close)
    assert window.save_current() is None  # nothing saved: the dialog was closed
    return offered[0]


def test_save_never_offers_the_opened_file_and_then_saves_where_saved_last(qtbot, window, tmp_path):
    from PySide6.QtGui import QGuiApplication

    source = photo(tmp_path / "holiday.png", colour=(40, 40, 40))
    window.open_image(source)
    assert suggested_by_save(qtbot, window) == tmp_path / "holiday-edited.png"
    target = tmp_path / "elsewhere" / "mine.png"
    target.parent.mkdir()
    saved(qtbot, window.save(target))
    window.document.apply(np.zeros_like(window.document.image), "black")
    saved(qtbot, window.save_current())  # no dialog: where it was saved
    assert np.array_equal(read_image(target), window.document.image)
    assert read_image(source)[0, 0, 0] == 40

    QGuiApplication.clipboard().setImage(window.view.before)
    window.paste()
    assert suggested_by_save(qtbot, window) == target.parent / "pasted.png"


def test_space_is_left_to_a_focused_button_and_escape_cancels_only_the_run(
    qtbot, window, models, tmp_path
):
    from imagexform.app.jobs import Job

    window.activateWindow()
    window.panel.models.setFocus()
    window.open_image(photo(tmp_path / "photo.png"))
    assert window.view.hasFocus()  # an opened photo takes the focus: Space compares at once
    choose(window, models / "invert.onnx")
    button = window.panel.live
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_Space)
    assert button.isChecked() and not window.view.showing_before
    button.setChecked(False)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.view.showing_before

    connection = threading.Event()  # a slow connection: nothing arrives until the test says

    def download(job: Job) -> None:
        job.report(0, 1)
        connection.wait(WAIT_MS / 1000)
        job.report(1, 1)  # raises once cancelled

    fake_download = Job(download, window)  # a real job standing in for a slow connection
    window.download_job = fake_download
    fake_download.start(window.pool)
    start_with_a_slow_model(window, models, tmp_path / "big.png", 1024)
    window.apply_model()
    run = window.run_job
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=WAIT_MS)
    with qtbot.waitSignal(run.cancelled, timeout=WAIT_MS):
        qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert fake_download.running
    fake_download.cancel()
    connection.set()
    qtbot.waitUntil(lambda: not fake_download.running, timeout=WAIT_MS)
    window.download_job = None


def test_the_history_keeps_at_most_the_undo_limit(window):
    from imagexform.app.document import UNDO_LIMIT

    window.document.open_pixels(np.zeros((8, 8, 3), np.uint8), "start.png")
    for step in range(UNDO_LIMIT + 5):
        window.document.apply(np.full((8, 8, 3), step, np.uint8), f"step {step}")
    assert window.document.undo_stack.count() == UNDO_LIMIT
    window.document.undo_stack.setIndex(0)
    assert window.document.image[0, 0, 0] == 4  # what step 5 started from: 0..3 are gone


def test_one_error_box_and_one_batch_dialog_at_a_time(qtbot, window):
    window.show_error("first")
    box = window.error_box
    window.show_error("second")
    assert window.error_box is box and box.text() == "second"
    window.batch_dialog()
    dialog = window.batch
    window.batch_dialog()
    assert window.batch is dialog
    dialog.reject()
    qtbot.waitUntil(lambda: window.batch is None)
    window.batch_dialog()
    assert window.batch is not None and window.batch is not dialog


def test_docks_and_toolbar_are_where_they_were_left(qtbot, tmp_path, models, monkeypatch):
    from PySide6.QtWidgets import QDockWidget

    monkeypatch.setenv("IMAGEXFORM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IMAGEXFORM_CATALOG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    ini = tmp_path / "editor.ini"
    first = MainWindow(EditorSettings(ini), ModelLibrary(shipped=models))
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.findChild(QDockWidget, "History").hide()
    first.addDockWidget(
        Qt.DockWidgetArea.LeftDockWidgetArea, first.findChild(QDockWidget, "Models")
    )
    first.close()
    second = MainWindow(EditorSettings(ini), ModelLibrary(shipped=models))
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert second.findChild(QDockWidget, "History").isHidden()
    models_dock = second.findChild(QDockWidget, "Models")
    assert second.dockWidgetArea(models_dock) == Qt.DockWidgetArea.LeftDockWidgetArea


def test_fitting_and_resizing_preview_the_region_now_in_view(qtbot, window, models, tmp_path):
    window.open_image(photo(tmp_path / "photo.png", size=(300, 400)))
    choose(window, models / "invert.onnx")
    view = window.view

    def previewed_in_view() -> bool:
        shown = window.run_job is None and bool(view.overlays)
        return shown and view.overlays[0][1] == QRectF(*view.visible_source_rect())

    view.zoom_at(4.0, QPointF(0, 0))
    window.panel.live.setChecked(True)
    qtbot.waitUntil(previewed_in_view, timeout=WAIT_MS)
    small = view.overlays[0][1]
    with qtbot.waitSignal(view.viewport_changed):
        window.resize(1400, 900)
    qtbot.waitUntil(previewed_in_view, timeout=WAIT_MS)
    assert view.overlays[0][1].width() > small.width()
    with qtbot.waitSignal(view.viewport_changed):
        view.fit()
    qtbot.waitUntil(previewed_in_view, timeout=WAIT_MS)
    assert view.overlays[0][1] == QRectF(0, 0, 400, 300)


def test_the_panel_shows_an_imported_models_architecture_and_size(qtbot, window, models):
    described = ModelInfo(
        family="sr",
        io=IOSpec(value_range=(0.0, 1.0)),
        title="SwinIR small ×1",
        task="restoration",
        architecture={
            "name": "SwinIR",
            "subtype": "small",
            "parameters": 11_900_000,
            "gflops_per_megapixel": 2650.0,
        },
    )
    path = invert_model(models / "swinir.onnx", described)
    window.panel.refresh()
    choose(window, path)
    assert "SwinIR small, 11.9M parameters, 2650 GFLOPs per megapixel" in (
        window.panel.details.text()
    )


def test_fast_preview_runs_the_fast_path_and_apply_stays_fp32(
    qtbot, window, models, tmp_path, monkeypatch
):
    from imagexform.runtime.quantize import cached_verdict

    monkeypatch.setenv("IMAGEXFORM_CACHE_DIR", str(tmp_path / "cache"))
    window.open_image(photo(tmp_path / "photo.png", size=(96, 128)))
    path = models / "invert.onnx"
    choose(window, path)
    window.panel.fast_preview.setChecked(True)
    window.preview_region()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=CONVERT_MS)
    assert window.view.overlays  # the preview is shown
    found = cached_verdict(path)
    assert found is not None  # prepared from the open photo
    previewed = window.cache.get(path, window.panel.device.currentText(), "fast")
    assert previewed.precision == found[0]["recipe"]
    expected = load_model(path).transform(window.document.image)
    assert np.abs(previewed.transform(window.document.image).astype(int) - expected).max() <= 8
    window.apply_model()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=WAIT_MS)
    assert np.array_equal(window.document.image, expected)  # Apply ran fp32
