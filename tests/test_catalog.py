"""The model catalog against a local HTTP server: download, verify, pin, convert, cache."""

from __future__ import annotations

import json
import logging
import socket
import threading
import tomllib
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from release_server import Files, serve_files

from imagexform.catalog import SHIPPED_MODELS, resolve_model
from imagexform.catalog import download as downloading
from imagexform.catalog.download import CHUNK, check_url, download, exclusive
from imagexform.catalog.store import _pin, catalog_file, find, lock_path, pins
from imagexform.cli import cli
from imagexform.errors import UserError
from imagexform.hookspecs import hookimpl
from imagexform.plugins import PluginRecord, host
from imagexform.runtime import load_model


@pytest.fixture
def server():
    with serve_files() as url:
        yield url


def closed_port() -> int:
    """A loopback port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
name = "horses"
family = "cyclegan"
task = "the same junyanz generator, trained as one direction of a CycleGAN"
url = "{server}/g.pth"

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
url = "http://127.0.0.1:{closed_port()}/g.pth"

[[model]]
name = "plain"
family = "pix2pix"
task = "not https"
url = "http://example.com/g.pth"

[[model]]
name = "ftp"
family = "pix2pix"
task = "not http at all"
url = "ftp://127.0.0.1/g.pth"

[[model]]
name = "bounce"
family = "pix2pix"
task = "redirects to plain http elsewhere"
url = "{server}/bounce.pth"

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
    assert listed["zebra"]["hash"] == "unpinned" and not listed["zebra"]["installed"]

    first = invoke("pull", "zebra")
    assert first.exit_code == 0, first.output
    model = load_model(first.stdout.strip())
    assert model.info.family == "pix2pix" and model.info.title.startswith("zebra: ")
    again = invoke("get", "zebra")  # the former name still works, hidden from --help
    assert again.stdout == first.stdout and "get" not in invoke("--help").output
    assert Files.requests == ["/g.pth"]  # the second call used the cache
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["zebra"]["hash"] == "pinned" and listed["zebra"]["installed"]
    assert listed["zebra"]["download_bytes"] == len(Files.files["/g.pth"])


def test_a_model_keeps_the_family_it_was_trained_as_whichever_importer_reads_it(catalog):
    """The junyanz importer (pix2pix's plugin) reads the file; the catalog says CycleGAN."""
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["horses"]["family"] == "cyclegan" and listed["zebra"]["family"] == "pix2pix"
    pulled = invoke("pull", "horses")
    assert pulled.exit_code == 0, pulled.output
    info = load_model(pulled.stdout.strip()).info
    assert info.family == "cyclegan" and info.plugin == "cyclegan"
    assert info.provenance["importer"] == "junyanz"
    assert info.description.startswith("CycleGAN, one direction")
    assert "family:      cyclegan" in invoke("info", "horses").output
    zebra = load_model(invoke("pull", "zebra").stdout.strip())
    image = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    assert np.array_equal(load_model(pulled.stdout.strip()).run(image), zebra.run(image))


def test_models_info_takes_installed_and_shipped_names_and_never_downloads(catalog):
    missing = invoke("info", "zebra")
    assert missing.exit_code == 2 and "imagexform models pull zebra" in missing.output
    assert Files.requests == []
    assert invoke("pull", "zebra").exit_code == 0
    installed = invoke("info", "zebra")
    assert installed.exit_code == 0 and "family:      pix2pix" in installed.output
    shipped = invoke("info", "imagexform-sr-x4")
    assert shipped.exit_code == 0 and "assets/models/imagexform-sr-x4.onnx" in shipped.output
    shipped_file = SHIPPED_MODELS / "imagexform-sr-x4.onnx"
    assert resolve_model("imagexform-sr-x4") == shipped_file  # what --model accepts
    assert Files.requests == ["/g.pth"]


def test_a_changed_file_is_refused_against_its_pin_and_deleted(catalog, tmp_path):
    assert invoke("pull", "zebra").exit_code == 0
    for path in (tmp_path / "home" / "models").iterdir():
        path.unlink()
    changed = bytearray(Files.files["/g.pth"])
    changed[len(changed) // 2] ^= 1  # same size, other bytes
    Files.files["/g.pth"] = bytes(changed)
    result = invoke("pull", "zebra")
    assert result.exit_code == 2 and "does not match the pinned" in result.output
    assert "deleted the download" in result.output and len(result.output.splitlines()) == 1
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
    assert load_model(resumed.stdout.strip()).info.family == "pix2pix"
    assert not part.exists()


def test_a_cancelled_download_keeps_only_its_part(catalog, tmp_path):
    from imagexform.catalog import fetch

    class Stop(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        fetch("zebra", cancel)
    home = tmp_path / "home"
    (part,) = [path for path in home.rglob("*") if path.is_file()]  # no pin, no model
    assert part.parent == home / "downloads" and part.suffix == ".part"
    assert 0 < part.stat().st_size < len(Files.files["/g.pth"])
    assert load_model(fetch("zebra")).info.family == "pix2pix"


def test_network_and_disk_failures_leave_nothing(catalog, tmp_path, monkeypatch):
    offline = invoke("pull", "offline")
    assert offline.exit_code == 2 and "/g.pth: download failed" in offline.output
    for name, url in [("plain", "http://example.com/g.pth"), ("ftp", "ftp://127.0.0.1/g.pth")]:
        refused = invoke("pull", name)
        assert refused.exit_code == 2
        assert f"{url}: only https:// downloads are allowed" in refused.output
    Files.redirects["/bounce.pth"] = "http://example.com/g.pth"
    bounced = invoke("pull", "bounce")
    assert bounced.exit_code == 2 and "http://example.com/g.pth: only https://" in bounced.output
    assert Files.requests == ["/bounce.pth"]  # refused before anything went to example.com
    assert not [path for path in (tmp_path / "home").rglob("*") if not path.is_dir()]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("IMAGEXFORM_HOME", str(blocker / "home"))
    unwritable = invoke("pull", "zebra")
    assert unwritable.exit_code == 2 and "cannot write the lock for zebra" in unwritable.output
    assert str(blocker / "home") in unwritable.output and blocker.read_text() == "not a folder"


def test_a_model_folder_that_cannot_be_written_keeps_the_verified_download(catalog, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").write_text("a file where the folder should be")
    failed = invoke("pull", "zebra")
    assert failed.exit_code == 2, failed.output
    assert f"{home / 'models'}: cannot write to the model folder" in failed.output
    (part,) = (home / "downloads").iterdir()
    size = len(Files.files["/g.pth"])
    assert part.stat().st_size == size
    (home / "models").unlink()
    fixed = invoke("pull", "zebra")
    assert fixed.exit_code == 0, fixed.output
    assert Files.ranges == [f"bytes={size}-"]  # the server said 416: nothing came again
    assert load_model(fixed.stdout.strip()).info.family == "pix2pix" and not part.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_drops_the_download_and_says_so(catalog, tmp_path):
    downloads = tmp_path / "home" / "downloads"
    downloads.mkdir(parents=True)
    part = downloads / "zebra-g.pth.part"
    part.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    result = invoke("pull", "zebra")
    assert result.exit_code == 2
    assert f"{part}: cannot write the download (No space left on device)" in result.output
    assert not list(downloads.iterdir()) and not (tmp_path / "home" / "models").exists()


def test_a_server_that_ignores_range_is_downloaded_from_the_start(server, tmp_path):
    part = tmp_path / "g.pth.part"
    part.write_bytes(b"bytes of some older file")
    Files.ignore_range = True
    seen: list[tuple[int, int]] = []
    download(f"{server}/g.pth", part, lambda done, total: seen.append((done, total)))
    size = len(Files.files["/g.pth"])
    assert part.read_bytes() == Files.files["/g.pth"]
    assert seen[0][0] <= CHUNK and seen[-1] == (size, size)


def test_one_fetch_at_a_time_per_model(catalog, tmp_path):
    lock = lock_path(find("zebra"))
    with exclusive(lock, "zebra"):  # as the editor holds it while it downloads
        busy = invoke("pull", "zebra")
        assert lock.is_file()
    assert busy.exit_code == 2 and "another imagexform process is fetching it" in busy.output
    assert Files.requests == [] and not lock.exists()


def test_a_resume_at_the_wrong_offset_is_dropped(server, tmp_path):
    part = tmp_path / "g.pth.part"
    part.write_bytes(Files.files["/g.pth"][:100])
    Files.range_start = 0  # answers 206 from the first byte, not from byte 100
    with pytest.raises(UserError, match="resumed at the wrong place"):
        download(f"{server}/g.pth", part)
    assert not part.exists()


def test_keep_checkpoint_list_all_and_remove(catalog, tmp_path):
    assert invoke("pull", "zebra", "--keep-checkpoint").exit_code == 0
    models = tmp_path / "home" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["zebra.onnx", "zebra.pth"]
    (models / "mine.onnx").write_bytes((models / "zebra.onnx").read_bytes())
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["mine"]["installed"] and listed["mine"]["family"] == "pix2pix"
    assert listed["zebra"]["installed"] and listed["zebra"]["hash"] == "pinned"
    assert not listed["candy"]["installed"] and listed["candy"]["license"] == ""
    lines = invoke("list").output.splitlines()
    (zebra,) = [index for index, line in enumerate(lines) if line.startswith("zebra ")]
    assert lines[zebra].split()[-3:] == ["yes", "BSD", "pinned"]
    assert lines[zebra + 1] == "    horse to zebra"
    assert any(line.startswith("mine ") for line in lines)
    assert "unpinned: no published sha256; the first download pins its size and hash" in lines
    assert "imagexform-sr-x4" not in listed
    everything = {row["name"] for row in json.loads(invoke("list", "--all", "--json").output)}
    assert {"imagexform-sr-x4", "mine", "zebra", "candy"} <= everything
    removed = invoke("remove", "zebra", "-y")
    assert removed.exit_code == 0 and sorted(p.name for p in models.iterdir()) == ["mine.onnx"]
    again = invoke("remove", "zebra", "-y")
    assert again.exit_code == 2 and "not installed" in again.output
    kept = CliRunner().invoke(cli, ["models", "remove", "mine"], input="n\n")
    assert kept.exit_code == 2 and "Delete mine.onnx?" in kept.output
    assert (models / "mine.onnx").is_file()
    assert CliRunner().invoke(cli, ["models", "remove", "mine"], input="y\n").exit_code == 0
    assert not list(models.iterdir())


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
    def __init__(self, url: str) -> None:
        self.url = url

    @hookimpl
    def imagexform_catalog_entries(self):
        return [
            {"name": "plugin-zebra", "family": "pix2pix", "task": "t", "url": self.url},
            {"name": "zebra", "family": "pix2pix", "task": "clash", "url": self.url},
            {"name": "broken", "family": "pix2pix", "colour": "blue"},
            {"name": "../escape", "family": "pix2pix", "task": "t", "url": self.url},
        ]


def test_plugins_extend_the_catalog(catalog, caplog, server):
    plugins = host()
    plugin = CatalogPlugin(f"{server}/missing.pth")
    plugins.register(plugin, PluginRecord(name="catalog-test"))
    try:
        with caplog.at_level(logging.WARNING, logger="imagexform.catalog.store"):
            listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
        pulled = invoke("pull", "plugin-zebra")  # its entry is used like a shipped one
    finally:
        plugins.manager.unregister(plugin)
        del plugins.records["catalog-test"]
    assert listed["plugin-zebra"]["plugin"] == "catalog-test"
    assert listed["zebra"]["plugin"] == "" and listed["zebra"]["task"] == "horse to zebra"
    assert "broken" not in listed and "../escape" not in listed
    assert "plugin catalog-test: catalog entry '../escape': a name is letters" in caplog.text
    assert "plugin catalog-test: catalog entry 'zebra' exists; ignored" in caplog.text
    assert pulled.exit_code == 2 and f"{server}/missing.pth: HTTP 404" in pulled.output
    assert Files.requests == ["/missing.pth"]


def test_model_values_are_paths_or_names_and_installed_names_stay_offline(
    catalog, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert resolve_model("elsewhere/zebra") == Path("elsewhere/zebra")  # a path, even if missing
    assert resolve_model("zebra.onnx") == Path("zebra.onnx")
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    (models / "zebra.onnx").write_bytes(b"installed")
    assert resolve_model("zebra") == models / "zebra.onnx"
    Path("zebra").write_bytes(b"a file here wins")
    assert resolve_model("zebra") == Path("zebra")
    assert Files.requests == []


def test_zip_member_is_extracted_and_copied_where_asked(catalog, tmp_path):
    result = invoke("pull", "candy", "-o", tmp_path / "candy.onnx")
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "candy.onnx").info.family == "style"


def test_failures_are_one_line_and_leave_nothing(catalog, tmp_path, server):
    wrong_size = invoke("pull", "sized")
    assert wrong_size.exit_code == 2 and "expected 12; deleted the download" in wrong_size.output
    missing = invoke("pull", "gone")
    assert missing.exit_code == 2 and f"{server}/missing.pth: HTTP 404" in missing.output
    unknown = invoke("pull", "zebro")
    assert unknown.exit_code == 2 and "did you mean zebra" in unknown.output
    evaluated = CliRunner().invoke(cli, ["eval", "zebro", "--data", str(tmp_path)])
    assert evaluated.exit_code == 2 and "did you mean zebra" in evaluated.output
    manual = invoke("pull", "drive")
    assert manual.exit_code == 2 and "use --file" in manual.output
    local = tmp_path / "downloaded.pth"
    local.write_bytes(Files.files["/g.pth"])
    assert invoke("pull", "drive", "--file", local).exit_code == 0
    assert local.read_bytes() == Files.files["/g.pth"]  # the user's file is only read
    assert not (tmp_path / "home" / "models" / "sized.onnx").exists()


def test_the_shipped_catalog_is_complete_and_well_formed(monkeypatch):
    monkeypatch.delenv("IMAGEXFORM_CATALOG", raising=False)
    models = tomllib.loads(catalog_file().read_text())["model"]
    names = [model["name"] for model in models]
    assert len(names) == len(set(names))
    families = set(host().families)
    for model in models:
        assert model["family"] in families and model["task"] and model["license"]
        assert model["url"].startswith("https://") and model["source_note"]
        check_url(model["url"])
        assert len(model.get("sha256", "")) in (0, 64)
    required = {
        "realesrgan-x4plus",
        "realesrgan-x2plus",
        "realesrgan-x4plus-anime-6b",
        "esrgan-x4",
        "realesr-general-x4v3",
        "realesr-animevideov3",
        "swinir-classical-x4",
        "swinir-realworld-x4",
        "hat-x4-imagenet",
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


def test_a_bad_first_download_is_not_pinned_and_not_kept(catalog, tmp_path, server):
    good = Files.files["/g.pth"]
    Files.files["/g.pth"] = b"<html>rate limited</html>"  # a 200 page that is no checkpoint
    failed = invoke("pull", "zebra")
    assert failed.exit_code == 2 and len(failed.output.splitlines()) == 1
    assert f"{server}/g.pth" in failed.output and ".convert-" not in failed.output
    assert "deleted the download" in failed.output
    assert pins() == {} and not list((tmp_path / "home" / "downloads").iterdir())
    Files.files["/g.pth"] = good
    fixed = invoke("pull", "zebra")
    assert fixed.exit_code == 0, fixed.output
    assert pins()["zebra"]["size"] == len(good) and Files.ranges == []


def test_a_416_for_another_length_drops_the_part(server, tmp_path):
    part = tmp_path / "g.pth.part"
    size = len(Files.files["/g.pth"])
    part.write_bytes(Files.files["/g.pth"] + b"more bytes than the release has")
    with pytest.raises(UserError, match=rf"refused to resume .*'bytes \*/{size}'"):
        download(f"{server}/g.pth", part)
    assert not part.exists()
    assert download(f"{server}/g.pth", part).read_bytes() == Files.files["/g.pth"]


def test_a_damaged_zip_is_one_line_and_dropped(catalog, tmp_path, server):
    damaged = bytearray(Files.files["/styles.zip"])
    damaged[200] ^= 0xFF  # inside the stored member: its CRC no longer matches
    Files.files["/styles.zip"] = bytes(damaged)
    result = invoke("pull", "candy")
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1
    assert f"{server}/styles.zip: damaged zip archive" in result.output
    assert not list((tmp_path / "home" / "downloads").iterdir()) and pins() == {}


def test_pins_file_problems_are_named_and_keep_the_download(catalog, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "pins.lock").mkdir()  # the pins file's lock cannot be written
    failed = invoke("pull", "zebra")
    assert failed.exit_code == 2 and f"{home / 'pins.lock'}: cannot write" in failed.output
    assert "kept the verified download" in failed.output
    (part,) = (home / "downloads").iterdir()
    assert part.stat().st_size == len(Files.files["/g.pth"])
    assert not (home / "models" / "zebra.onnx").exists()  # never installed unpinned
    (home / "pins.lock").rmdir()
    (home / "pins.json").write_text("{not json")
    damaged = invoke("pull", "zebra")
    assert damaged.exit_code == 2 and f"{home / 'pins.json'}: unreadable pins file" in (
        damaged.output
    )
    assert Files.requests == ["/g.pth"]  # refused before downloading again
    (home / "pins.json").unlink()
    fixed = invoke("pull", "zebra")
    assert fixed.exit_code == 0, fixed.output
    assert "zebra" in pins() and not part.exists()
    assert [path.name for path in home.iterdir() if path.name.startswith(".pins")] == []


def test_pins_written_at_once_all_survive(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEXFORM_HOME", str(tmp_path))

    def pin_many(prefix: str) -> None:
        for index in range(25):
            _pin(f"{prefix}{index}", "0" * 64, index)

    threads = [threading.Thread(target=pin_many, args=(p,)) for p in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pins()) == 50
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pins.json"]


def test_remove_deletes_only_the_model_and_its_kept_checkpoint(catalog, tmp_path):
    assert invoke("pull", "zebra", "--keep-checkpoint").exit_code == 0
    models = tmp_path / "home" / "models"
    (models / "zebra.txt").write_text("my notes")
    (models / "zebra.ckpt").write_text("another file with the same stem")
    removed = invoke("remove", "zebra", "-y")
    assert removed.exit_code == 0, removed.output
    assert sorted(p.name for p in models.iterdir()) == ["zebra.ckpt", "zebra.txt"]


def test_a_redirect_from_https_to_loopback_http_is_refused(server, tmp_path):
    handler = downloading._HttpsRedirects()
    request = urllib.request.Request("https://example.com/g.pth")
    with pytest.raises(UserError, match="only https:// downloads are allowed"):
        handler.redirect_request(request, None, 302, "Found", {}, f"{server}/g.pth")
    Files.redirects["/bounce.pth"] = f"{server}/g.pth"  # loopback to loopback is fine
    part = download(f"{server}/bounce.pth", tmp_path / "g.pth.part")
    assert part.read_bytes() == Files.files["/g.pth"]


def test_a_bad_catalog_name_is_refused(catalog):
    catalog.write_text(
        catalog.read_text() + '\n[[model]]\nname = "../x"\nfamily = "pix2pix"\n'
        'task = "t"\nurl = "https://example.com/g.pth"\n'
    )
    result = invoke("list")
    assert result.exit_code == 2 and "catalog entry '../x': a name is letters" in result.output


def test_a_lock_dropped_between_open_and_lock_is_retried(tmp_path, monkeypatch):
    """The holder finishes (and drops its lock file) just after we opened that file."""
    import fcntl

    lock = tmp_path / "zebra.lock"
    flock = fcntl.flock
    dropped: list[int] = []

    def holder_finishes_first(fd: int, operation: int) -> None:
        if not dropped:
            dropped.append(fd)
            lock.unlink()
        flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", holder_finishes_first)
    with exclusive(lock, "zebra"):
        assert lock.is_file()
    assert dropped and not lock.exists()
