"""The model catalog against a local HTTP server: download, verify, pin, convert, cache."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from release_server import Files, serve_files

from imagexform.catalog.store import catalog_file
from imagexform.cli import cli
from imagexform.hookspecs import hookimpl
from imagexform.plugins import PluginRecord, host
from imagexform.runtime import load_model


@pytest.fixture
def server():
    with serve_files() as url:
        yield url


@pytest.fixture
def catalog(server, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(
        f"""
[[model]]
name = "zebra"
family = "pix2pix"
task = "horse to zebra"
url = "{server}/g.pth"
license = "BSD"

[[model]]
name = "candy"
family = "style"
task = "candy"
url = "{server}/styles.zip"
archive_member = "candy.pth"

[[model]]
name = "sized"
family = "pix2pix"
task = "wrong size on purpose"
url = "{server}/g.pth"
size = 12

[[model]]
name = "gone"
family = "pix2pix"
task = "404"
url = "{server}/missing.pth"

[[model]]
name = "offline"
family = "pix2pix"
task = "nothing listens there"
url = "http://127.0.0.1:9/g.pth"

[[model]]
name = "plain"
family = "pix2pix"
task = "not https"
url = "http://example.com/g.pth"

[[model]]
name = "drive"
family = "pix2pix"
task = "manual"
url = "https://example.invalid/folder"
manual = "download it from the project's drive, then use --file"
"""
    )
    monkeypatch.setenv("IMAGEXFORM_CATALOG", str(path))
    monkeypatch.setenv("IMAGEXFORM_HOME", str(tmp_path / "home"))
    return path


def invoke(*args: object):
    return CliRunner().invoke(cli, ["models", *map(str, args)], catch_exceptions=False)


def test_pull_downloads_converts_and_installs(catalog):
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["zebra"]["hash"] == "pin on first download" and not listed["zebra"]["installed"]

    first = invoke("pull", "zebra")
    assert first.exit_code == 0, first.output
    model = load_model(first.output.strip())
    assert model.info.family == "pix2pix"
    again = invoke("pull", "zebra")
    assert again.output == first.output
    assert Files.requests == ["/g.pth"]  # the second call used the cache
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["zebra"]["hash"] == "pinned" and listed["zebra"]["installed"]
    assert listed["zebra"]["download_bytes"] == len(Files.files["/g.pth"])


def test_a_changed_file_is_refused_against_its_pin_and_deleted(catalog, tmp_path):
    assert invoke("pull", "zebra").exit_code == 0
    for path in (tmp_path / "home" / "models").iterdir():
        path.unlink()
    changed = bytearray(Files.files["/g.pth"])
    changed[len(changed) // 2] ^= 1  # same size, other bytes
    Files.files["/g.pth"] = bytes(changed)
    result = invoke("pull", "zebra")
    assert result.exit_code == 2 and "does not match" in result.output
    assert "discarded" in result.output
    assert not list((tmp_path / "home" / "models").iterdir())
    assert not list((tmp_path / "home" / "downloads").iterdir())


def test_an_interrupted_download_resumes_with_a_range_request(catalog, tmp_path):
    size = len(Files.files["/g.pth"])
    Files.drop_after = size // 2
    cut = invoke("pull", "zebra")
    assert cut.exit_code == 2 and "run the same command again to resume" in cut.output
    (part,) = (tmp_path / "home" / "downloads").iterdir()
    assert part.stat().st_size == size // 2
    assert not (tmp_path / "home" / "models").exists()
    Files.drop_after = None
    resumed = invoke("pull", "zebra")
    assert resumed.exit_code == 0, resumed.output
    assert Files.ranges == [f"bytes={size // 2}-"]
    assert load_model(resumed.output.strip()).info.family == "pix2pix"
    assert not part.exists()


def test_a_cancelled_download_keeps_only_its_part(catalog, tmp_path):
    from imagexform.catalog import fetch

    class Stop(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        fetch("zebra", cancel)
    assert [p.suffix for p in (tmp_path / "home" / "downloads").iterdir()] == [".part"]
    assert not (tmp_path / "home" / "models").exists()
    assert load_model(fetch("zebra")).info.family == "pix2pix"


def test_network_and_disk_failures_leave_nothing(catalog, tmp_path, monkeypatch):
    offline = invoke("pull", "offline")
    assert offline.exit_code == 2 and "http://127.0.0.1:9/g.pth: download failed" in offline.output
    plain = invoke("pull", "plain")
    assert plain.exit_code == 2 and "only https:// downloads are allowed" in plain.output
    assert not (tmp_path / "home").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("IMAGEXFORM_HOME", str(blocker / "home"))
    unwritable = invoke("pull", "zebra")
    assert unwritable.exit_code == 2 and "cannot write the download" in unwritable.output
    assert str(blocker / "home") in unwritable.output and blocker.read_text() == "not a folder"


def test_keep_checkpoint_list_all_and_remove(catalog, tmp_path):
    assert invoke("pull", "zebra", "--keep-checkpoint").exit_code == 0
    models = tmp_path / "home" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["zebra.onnx", "zebra.pth"]
    (models / "mine.onnx").write_bytes((models / "zebra.onnx").read_bytes())
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["mine"]["installed"] and listed["mine"]["family"] == "pix2pix"
    assert "imagexform-sr-x4" not in listed
    everything = {row["name"] for row in json.loads(invoke("list", "--all", "--json").output)}
    assert "imagexform-sr-x4" in everything
    removed = invoke("remove", "zebra", "-y")
    assert removed.exit_code == 0 and sorted(p.name for p in models.iterdir()) == ["mine.onnx"]
    again = invoke("remove", "zebra", "-y")
    assert again.exit_code == 2 and "not installed" in again.output


def test_batch_pulls_a_catalog_name_once_then_runs_offline(catalog, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), np.full((32, 32, 3), 128, np.uint8))
    run = ["batch", str(photos), str(tmp_path / "out"), "-m", "zebra"]
    asked = CliRunner().invoke(cli, run)
    assert asked.exit_code == 2 and "pass --yes" in asked.output and Files.requests == []
    first = CliRunner().invoke(cli, [*run, "--yes"])
    assert first.exit_code == 0, first.output
    assert Files.requests == ["/g.pth"] and (tmp_path / "out" / "a.png").is_file()
    second = CliRunner().invoke(cli, [*run[:2], str(tmp_path / "again"), "-m", "zebra"])
    assert second.exit_code == 0 and Files.requests == ["/g.pth"]


class CatalogPlugin:
    @hookimpl
    def imagexform_catalog_entries(self):
        return [
            {"name": "plugin-zebra", "family": "pix2pix", "task": "t", "url": "https://x/g.pth"},
            {"name": "zebra", "family": "pix2pix", "task": "clash", "url": "https://x/g.pth"},
            {"name": "broken", "family": "pix2pix", "colour": "blue"},
        ]


def test_plugins_extend_the_catalog(catalog):
    plugins = host()
    plugin = CatalogPlugin()
    plugins.register(plugin, PluginRecord(name="catalog-test"))
    try:
        listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    finally:
        plugins.manager.unregister(plugin)
        del plugins.records["catalog-test"]
    assert listed["plugin-zebra"]["plugin"] == "catalog-test"
    assert listed["zebra"]["plugin"] == "" and listed["zebra"]["task"] == "horse to zebra"
    assert "broken" not in listed


def test_zip_member_is_extracted_and_copied_where_asked(catalog, tmp_path):
    result = invoke("pull", "candy", "-o", tmp_path / "candy.onnx")
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "candy.onnx").info.family == "style"


def test_failures_are_one_line_and_leave_nothing(catalog, tmp_path, server):
    wrong_size = invoke("pull", "sized")
    assert wrong_size.exit_code == 2 and "expected 12; discarded" in wrong_size.output
    missing = invoke("pull", "gone")
    assert missing.exit_code == 2 and f"{server}/missing.pth: HTTP 404" in missing.output
    unknown = invoke("pull", "zebro")
    assert unknown.exit_code == 2 and "did you mean zebra" in unknown.output
    manual = invoke("pull", "drive")
    assert manual.exit_code == 2 and "use --file" in manual.output
    local = tmp_path / "downloaded.pth"
    local.write_bytes(Files.files["/g.pth"])
    assert invoke("pull", "drive", "--file", local).exit_code == 0
    assert not (tmp_path / "home" / "models" / "sized.onnx").exists()


def test_the_shipped_catalog_is_complete_and_well_formed(monkeypatch):
    monkeypatch.delenv("IMAGEXFORM_CATALOG", raising=False)
    models = tomllib.loads(catalog_file().read_text())["model"]
    names = [model["name"] for model in models]
    assert len(names) == len(set(names))
    families = set(host().families)
    for model in models:
        assert model["family"] in families and model["task"] and model["license"]
        assert model["url"].startswith(("https://", "http://")) and model["source_note"]
        assert len(model.get("sha256", "")) in (0, 64)
    required = {
        "realesrgan-x4plus",
        "realesrgan-x2plus",
        "realesrgan-x4plus-anime-6b",
        "esrgan-x4",
        "cyclegan-horse2zebra",
        "cyclegan-zebra2horse",
        "cyclegan-monet2photo",
        "cyclegan-style-monet",
        "cyclegan-style-vangogh",
        "cyclegan-style-ukiyoe",
        "cyclegan-style-cezanne",
        "pix2pix-facades-label2photo",
        "pix2pix-edges2shoes",
        "style-candy",
        "style-mosaic",
        "style-rain-princess",
        "style-udnie",
        "stargan-celeba-128",
    }
    assert required <= set(names)
