"""The model catalog against a local HTTP server: download, verify, pin, convert, cache."""

from __future__ import annotations

import http.server
import io
import json
import threading
import tomllib
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from click.testing import CliRunner

from imagexform.catalog.store import catalog_file
from imagexform.cli import cli
from imagexform.nn import ResnetGenerator
from imagexform.plugins import host
from imagexform.runtime import load_model
from imagexform_style.networks import TransformerNet


def saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


class Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    generator = saved(ResnetGenerator(3, 3, ngf=4, norm="instance", n_blocks=6).state_dict())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("saved_models/candy.pth", saved(TransformerNet(4).state_dict()))
        zf.writestr("saved_models/readme.txt", "four models")
    Files.files = {"/g.pth": generator, "/styles.zip": archive.getvalue()}
    Files.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


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


def test_get_downloads_converts_and_caches(catalog):
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["zebra"]["hash"] == "pin on first download" and not listed["zebra"]["cached"]

    first = invoke("get", "zebra")
    assert first.exit_code == 0, first.output
    model = load_model(first.output.strip())
    assert model.info.family == "pix2pix"
    again = invoke("get", "zebra")
    assert again.output == first.output
    assert Files.requests == ["/g.pth"]  # the second call used the cache
    listed = {row["name"]: row for row in json.loads(invoke("list", "--json").output)}
    assert listed["zebra"]["hash"] == "pinned" and listed["zebra"]["cached"]


def test_a_changed_file_is_refused_against_its_pin(catalog, tmp_path):
    assert invoke("get", "zebra").exit_code == 0
    for path in (tmp_path / "home" / "models").iterdir():
        path.unlink()
    changed = bytearray(Files.files["/g.pth"])
    changed[len(changed) // 2] ^= 1  # same size, other bytes
    Files.files["/g.pth"] = bytes(changed)
    result = invoke("get", "zebra")
    assert result.exit_code == 2 and "does not match" in result.output
    assert not list((tmp_path / "home" / "models").iterdir())


def test_zip_member_is_extracted_and_copied_where_asked(catalog, tmp_path):
    result = invoke("get", "candy", "-o", tmp_path / "candy.onnx")
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "candy.onnx").info.family == "style"


def test_failures_are_one_line_and_leave_nothing(catalog, tmp_path, server):
    wrong_size = invoke("get", "sized")
    assert wrong_size.exit_code == 2 and "expected 12; discarded" in wrong_size.output
    missing = invoke("get", "gone")
    assert missing.exit_code == 2 and f"{server}/missing.pth: HTTP 404" in missing.output
    unknown = invoke("get", "zebro")
    assert unknown.exit_code == 2 and "did you mean zebra" in unknown.output
    manual = invoke("get", "drive")
    assert manual.exit_code == 2 and "use --file" in manual.output
    local = tmp_path / "downloaded.pth"
    local.write_bytes(Files.files["/g.pth"])
    assert invoke("get", "drive", "--file", local).exit_code == 0
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
