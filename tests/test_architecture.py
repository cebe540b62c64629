"""The layout's invariants: the core names no family, plugins stand alone, style is enforced."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PACKAGES = sorted(
    p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_there_are_plugins_to_check():
    assert "imagexform_pix2pix" in PLUGIN_PACKAGES


@pytest.mark.parametrize("path", sorted((ROOT / "imagexform").rglob("*.py")), ids=str)
def test_core_never_imports_a_plugin(path):
    assert not imported_modules(path) & set(PLUGIN_PACKAGES)


@pytest.mark.parametrize("package", PLUGIN_PACKAGES)
def test_plugins_never_import_each_other(package):
    others = set(PLUGIN_PACKAGES) - {package}
    for path in (ROOT / "plugins" / package).rglob("*.py"):
        assert not imported_modules(path) & others, path


def test_builtin_plugins_are_registered_as_entry_points():
    import tomllib

    registered = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][
        "imagexform"
    ]
    assert sorted(value.split(":")[0] for value in registered.values()) == PLUGIN_PACKAGES


@pytest.mark.parametrize("arguments", [["check"], ["format", "--check"]])
def test_ruff_is_clean(arguments):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the dev extra)")
    result = subprocess.run(
        [ruff, *arguments, "."], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


TEMPLATE_PACKAGE = ROOT / "examples" / "plugin-template" / "imagexform_deblur"
PLUGIN_SOURCES = sorted(
    [*(ROOT / "plugins").glob("imagexform_*/**/*.py"), *TEMPLATE_PACKAGE.rglob("*.py")]
)


def imagexform_imports(path: Path) -> list[str]:
    """Every module of the ``imagexform`` package that ``path`` imports, as written."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] == "imagexform"]
    return found


def test_the_plugin_api_rule_sees_a_violation(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text(
        "import imagexform.nn\nfrom imagexform.plugin_api import Family\n"
        "def f():\n    from imagexform.train.context import TrainContext\n"
    )
    assert imagexform_imports(offender) == [
        "imagexform.nn",
        "imagexform.plugin_api",
        "imagexform.train.context",
    ]


@pytest.mark.parametrize("path", PLUGIN_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_and_the_template_import_only_the_plugin_api(path):
    """A built-in plugin is written exactly as a third party's must be: against
    imagexform.plugin_api alone, the module PLUGIN_API_VERSION governs."""
    assert set(imagexform_imports(path)) <= {"imagexform.plugin_api"}, path


def test_the_plugin_api_names_resolve_without_importing_torch_or_opencv_until_used():
    code = (
        "import sys, imagexform.plugin_api as api\n"
        "heavy = {'torch', 'cv2', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, f'importing the plugin API imported {heavy}'\n"
        "missing = [n for n in api.__all__ if getattr(api, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert 'torch' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
