"""``imagexform plugins``: list, install, uninstall, enable and disable plugins.

Installing runs pip in the interpreter imagexform itself runs in, so a plugin always lands
where it will be loaded. Uninstalling finds the plugin's distribution from its entry-point
metadata alone, never importing it, so a plugin too broken to import can still be removed.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points

import click

from imagexform.errors import UserError

GROUP = "imagexform"
# A plugin must not pin the user's runtime: onnxruntime and onnxruntime-gpu clobber each other.
RUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu")


def installed_plugins() -> dict[str, str]:
    """Plugin name -> distribution name, read from metadata (no plugin is imported)."""
    importlib.invalidate_caches()
    return {ep.name: (ep.dist.name if ep.dist else "?") for ep in entry_points(group=GROUP)}


def runtime_requirement(distribution: str) -> str | None:
    """The onnxruntime requirement a plugin's distribution always installs, if any (an
    optional extra is the user's choice and fine)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        declared = requires(distribution) or []
    except PackageNotFoundError:
        return None
    for text in declared:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        optional = requirement.marker is not None and "extra" in str(requirement.marker)
        if requirement.name.lower() in RUNTIME_DISTRIBUTIONS and not optional:
            return text
    return None


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    if subprocess.run(command).returncode != 0:
        raise UserError(f"pip failed: {' '.join(command[1:])}")


@click.group("plugins")
def plugins_group() -> None:
    """List, install, remove, enable and disable plugins."""


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Also show distributions and hooks (named without their imagexform_ prefix).",
)
def plugins_list(as_json: bool, show_all: bool) -> None:
    """Plugins with version, families, status (loaded / disabled / failed / incompatible)
    and any load error."""
    from imagexform.plugins import host

    records = sorted(host().records.values(), key=lambda r: r.name)
    warnings = {
        record.name: requirement
        for record in records
        if record.distribution and (requirement := runtime_requirement(record.distribution))
    }
    if as_json:
        rows = [{**r.to_dict(), "runtime_requirement": warnings.get(r.name)} for r in records]
        click.echo(json.dumps(rows, indent=2))
        return
    from imagexform.listing import listing

    header = ["plugin", "version", "families", "status"]
    if show_all:
        header[1:1] = ["distribution", "hooks"]
    rows = []
    for record in records:
        row = [record.name, record.version or "-"]
        if show_all:
            hooks = ",".join(hook.removeprefix("imagexform_") for hook in record.hooks)
            row[1:1] = [record.distribution or "-", hooks or "-"]
        rows.append([*row, ",".join(record.families) or "-", record.status])
    click.echo(listing(header, rows, [record.error or "" for record in records]))
    for name, requirement in warnings.items():
        click.echo(
            f"warning: plugin {name} requires {requirement}; plugins must leave the choice "
            "of onnxruntime (CPU or GPU build) to the user",
            err=True,
        )


@plugins_group.command("install")
@click.argument("target", metavar="NAME_OR_PATH")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade it if already installed.")
@click.option("-e", "--editable", is_flag=True, help="Install a local folder in editable mode.")
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PIP_ARGS]")
def plugins_install(target: str, upgrade: bool, editable: bool, pip_args: tuple[str, ...]) -> None:
    """Install a plugin from PyPI, a wheel or a folder, with this interpreter's pip; arguments
    after -- go to pip (e.g. -- --no-index --find-links DIR)."""
    before = installed_plugins()
    _pip(
        "install",
        *(["--upgrade"] if upgrade else []),
        *(["--editable"] if editable else []),
        target,
        *pip_args,
    )
    added = {name: dist for name, dist in installed_plugins().items() if name not in before}
    if not added:
        click.echo(f"{target}: installed, but it adds no imagexform plugin")
    for name, dist in sorted(added.items()):
        click.echo(f"added plugin {name} (from {dist})")


@plugins_group.command("uninstall")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def plugins_uninstall(name: str, yes: bool) -> None:
    """Remove the distribution that provides plugin NAME (or the distribution NAME). Works
    even when the plugin cannot be imported."""
    plugins = installed_plugins()
    distribution = plugins.get(name)
    if distribution is None:
        providing = {dist for dist in plugins.values() if dist.lower() == name.lower()}
        if not providing:
            known = ", ".join(sorted(plugins)) or "none"
            raise UserError(f"no plugin or plugin distribution named {name!r} (plugins: {known})")
        distribution = providing.pop()
    if distribution == "imagexform":
        raise UserError(f"{name} is built into imagexform; disable it instead")
    removed = sorted(plugin for plugin, dist in plugins.items() if dist == distribution)
    _pip("uninstall", *(["--yes"] if yes else []), distribution)
    click.echo(f"removed {distribution} (plugins: {', '.join(removed)})")


@plugins_group.command("disable")
@click.argument("name")
def plugins_disable(name: str) -> None:
    """Stop loading plugin NAME (kept installed; remembered in the user config)."""
    from imagexform.user_config import config_file, set_plugin_disabled

    if name not in installed_plugins():
        raise UserError(f"no installed plugin named {name!r}")
    set_plugin_disabled(name, True)
    click.echo(f"disabled {name} ({config_file()})")


@plugins_group.command("enable")
@click.argument("name")
def plugins_enable(name: str) -> None:
    """Load plugin NAME again."""
    from imagexform.user_config import set_plugin_disabled

    set_plugin_disabled(name, False)
    click.echo(f"enabled {name}")
