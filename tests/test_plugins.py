"""Plugin discovery: real entry points, in-process plugins, isolation of broken plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import imagexform
from imagexform.family import Family, IOSpec
from imagexform.hookspecs import hookimpl
from imagexform.nn import ResnetGenerator
from imagexform.plugins import PluginHost, PluginRecord, discover


class ToyFamily(Family):
    name = "toy"
    summary = "a family that exists only in tests"

    def build(self, config):
        return {}

    def dataset(self, config, root, split):
        return None

    def train_step(self, config, nets, context):
        raise NotImplementedError

    def inference_module(self, config, nets):
        raise NotImplementedError

    def io_spec(self, config):
        return IOSpec()


class ToyPlugin:
    IMAGEXFORM_PLUGIN_API = ">=1,<2"

    @hookimpl
    def imagexform_families(self):
        return [ToyFamily()]


def test_builtin_family_is_found_through_its_entry_point(monkeypatch):
    monkeypatch.delenv("IMAGEXFORM_LOAD_PLUGINS", raising=False)
    host = discover()
    record = host.records["pix2pix"]
    assert record.status == "loaded", record.error
    assert record.families == ["pix2pix"]
    assert record.version == imagexform.__version__
    assert record.distribution == "imagexform"
    assert "imagexform_families" in record.hooks
    assert host.family("pix2pix").config_class().netG == "unet_256"


def test_in_process_plugin_registers_a_family():
    host = PluginHost()
    host.register(ToyPlugin(), PluginRecord(name="toy-plugin"))
    assert host.records["toy-plugin"].status == "loaded"
    assert host.family("toy").summary == ToyFamily.summary
    assert host.family_owner("toy") == "toy-plugin"


def test_incompatible_api_version_is_recorded_and_skipped():
    class FuturePlugin(ToyPlugin):
        IMAGEXFORM_PLUGIN_API = ">=2"

    host = PluginHost()
    host.register(FuturePlugin(), PluginRecord(name="future"))
    record = host.records["future"]
    assert record.status == "incompatible"
    assert ">=2" in record.error
    assert "toy" not in host.families


def test_misspelled_hook_fails_only_that_plugin():
    class Misspelled:
        @hookimpl
        def imagexform_familys(self):
            return []

    host = PluginHost()
    host.register(Misspelled(), PluginRecord(name="typo"))
    host.register(ToyPlugin(), PluginRecord(name="good"))
    assert host.records["typo"].status == "failed"
    assert "imagexform_familys" in host.records["typo"].error
    assert host.family("toy")


def test_raising_hook_fails_only_that_plugin():
    class Raising:
        @hookimpl
        def imagexform_families(self):
            raise RuntimeError("boom in families")

    host = PluginHost()
    host.register(Raising(), PluginRecord(name="raising"))
    host.register(ToyPlugin(), PluginRecord(name="good"))
    assert host.records["raising"].status == "failed"
    assert "boom in families" in host.records["raising"].error
    assert list(host.families) == ["toy"]


def test_duplicate_family_name_keeps_the_first():
    host = PluginHost()
    host.register(ToyPlugin(), PluginRecord(name="first"))
    host.register(ToyPlugin(), PluginRecord(name="second"))
    assert host.family_owner("toy") == "first"
    assert "already provided by first" in host.records["second"].error


def test_unknown_family_lists_the_known_ones():
    host = PluginHost()
    host.register(ToyPlugin(), PluginRecord(name="toy-plugin"))
    with pytest.raises(imagexform.errors.UserError, match=r"unknown family 'nope'.*toy"):
        host.family("nope")


@pytest.mark.parametrize(
    ("selection", "expected_status"),
    [("", "disabled"), ("pix2pix", "loaded"), ("other", "disabled")],
)
def test_load_plugins_environment_variable(monkeypatch, selection, expected_status):
    monkeypatch.setenv("IMAGEXFORM_LOAD_PLUGINS", selection)
    host = discover()
    assert host.records["pix2pix"].status == expected_status
    assert ("pix2pix" in host.families) == (expected_status == "loaded")


def write_entry_point_plugin(root: Path, dist: str, module: str, source: str) -> None:
    """Install a plugin the way pip would expose it: a module plus a dist-info with entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[imagexform]\n{module} = {module}\n")


def run_cli(args: list[str], extra_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(extra_path), environment.get("PYTHONPATH", "")]
    )
    environment.pop("IMAGEXFORM_LOAD_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "imagexform", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.fixture
def third_party(tmp_path: Path) -> Path:
    write_entry_point_plugin(
        tmp_path,
        "imagexform-broken",
        "broken_plugin",
        """
        raise ImportError("this plugin is broken on purpose")
        """,
    )
    write_entry_point_plugin(
        tmp_path,
        "imagexform-hello",
        "hello_plugin",
        """
        import click
        from imagexform.hookspecs import hookimpl

        IMAGEXFORM_PLUGIN_API = ">=1"

        @hookimpl
        def imagexform_register_commands(cli):
            @cli.command()
            def hello():
                '''Say hello from a plugin.'''
                click.echo("hello from a plugin command")
        """,
    )
    return tmp_path


def test_broken_third_party_plugin_is_listed_and_others_work(third_party):
    result = run_cli(["plugins", "list", "--json"], third_party)
    assert result.returncode == 0, result.stderr
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert records["broken_plugin"]["status"] == "failed"
    assert "broken on purpose" in records["broken_plugin"]["error"]
    assert records["broken_plugin"]["version"] == "0.3"
    assert records["pix2pix"]["status"] == "loaded"
    assert records["hello_plugin"]["status"] == "loaded"
    assert records["hello_plugin"]["hooks"] == ["imagexform_register_commands"]

    table = run_cli(["plugins", "list"], third_party, COLUMNS="200")
    assert "broken_plugin" in table.stdout and "failed" in table.stdout
    wide = run_cli(["plugins", "list", "--all"], third_party, COLUMNS="80").stdout.splitlines()
    (hello_row,) = [line for line in wide if line.startswith("hello_plugin ")]
    assert "register_commands" in hello_row and "imagexform_register" not in hello_row
    (broken,) = [index for index, line in enumerate(wide) if line.startswith("broken_plugin ")]
    assert wide[broken].endswith("failed") and "broken on purpose" in wide[broken + 1]

    hello = run_cli(["hello"], third_party)
    assert hello.returncode == 0, hello.stderr
    assert hello.stdout.strip() == "hello from a plugin command"
    assert "hello" in run_cli(["--help"], third_party).stdout


def test_cli_start_up_and_listing_import_no_torch():
    """The inference side and the CLI's start-up must never pull in torch."""
    probe = textwrap.dedent(
        """
        import sys
        import imagexform.cli, imagexform.io.images
        from imagexform.cli import cli
        for args in (["--help"], ["plugins", "list", "--json"], ["train", "--help"],
                     ["train", "pix2pix", "--show-config"]):
            try:
                cli(args, standalone_mode=False)
            except SystemExit:
                pass
        from imagexform.plugins import host
        assert "pix2pix" in host().families
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print("TORCH:", loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "TORCH: []" in result.stdout


def test_built_ins_train_export_and_run_beside_broken_plugins(third_party, make_pairs, tmp_path):
    write_entry_point_plugin(
        third_party,
        "imagexform-future",
        "future_plugin",
        """
        IMAGEXFORM_PLUGIN_API = ">=9"
        """,
    )
    write_entry_point_plugin(
        third_party,
        "imagexform-raising",
        "raising_plugin",
        """
        from imagexform.hookspecs import hookimpl

        @hookimpl
        def imagexform_importers():
            raise RuntimeError("importer hook exploded")
        """,
    )
    data, run = make_pairs(count=3), tmp_path / "run"
    tiny = ["netG=unet_32", "ngf=4", "ndf=4", "image_size=32", "load_size=32", "steps=1"]
    sets = [part for item in tiny for part in ("--set", item)]
    trained = run_cli(
        ["train", "pix2pix", "--data", str(data), "--out", str(run), *sets], third_party
    )
    assert trained.returncode == 0, trained.stderr
    model = tmp_path / "m.onnx"
    exported = run_cli(["export", str(run), "-o", str(model)], third_party)
    assert exported.returncode == 0, exported.stderr
    batch = run_cli(["batch", str(data), str(tmp_path / "out"), "-m", str(model)], third_party)
    assert batch.returncode == 0, batch.stderr
    listed = {
        r["name"]: r for r in json.loads(run_cli(["plugins", "list", "--json"], third_party).stdout)
    }
    assert listed["future_plugin"]["status"] == "incompatible"
    assert listed["broken_plugin"]["status"] == "failed"
    foreign = tmp_path / "latest_net_G.pth"
    torch.save(ResnetGenerator(3, 3, ngf=4, norm="instance", n_blocks=6).state_dict(), foreign)
    imported = run_cli(["import", str(foreign), "-o", str(tmp_path / "x.onnx")], third_party)
    assert imported.returncode == 0, imported.stderr  # the raising importer hook is skipped
