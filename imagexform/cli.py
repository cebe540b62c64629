"""The ``imagexform`` command.

Start-up and ``--help`` must stay fast and torch-free: every command imports its heavy
modules inside its function body, and plugins add their commands through a hook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

import imagexform
from imagexform.errors import UserError


class ImagexformGroup(click.Group):
    """Adds plugin commands on first use and turns :class:`UserError` into one clean line."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from imagexform.plugins import host

            host().register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=ImagexformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(imagexform.__version__, prog_name="imagexform")
def cli() -> None:
    """Train generative image models, export them to ONNX and transform images with them."""


@cli.command()
@click.argument("family_name", metavar="FAMILY")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Dataset folder (layout depends on the family). Optional when resuming.",
)
@click.option(
    "--out",
    "run_dir",
    type=click.Path(path_type=Path),
    help="Run directory for checkpoints, samples and TensorBoard logs.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="TOML file of settings (see --show-config).",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one setting; repeatable. Applied after --config.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Require a checkpoint in --out and continue from it (this also happens "
    "automatically whenever --out holds one).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--show-config", is_flag=True, help="Print the family's default settings and exit.")
def train(
    family_name: str,
    data: Path | None,
    run_dir: Path | None,
    config_file: Path | None,
    assignments: tuple[str, ...],
    resume: bool,
    device: str,
    show_config: bool,
) -> None:
    """Train FAMILY on a dataset folder, resuming from --out when it holds a checkpoint."""
    from imagexform.config import parse_assignments, to_toml
    from imagexform.plugins import host

    family = host().family(family_name)
    if show_config:
        click.echo(f"# {family.name}: {family.summary}\n# data: {family.dataset_layout}")
        click.echo(to_toml(family.config_class()), nl=False)
        return
    if run_dir is None:
        raise UserError("train needs --out RUN (the run directory)")
    overrides = parse_assignments(assignments)

    from imagexform.train.fitting import fit

    def echo(text: str) -> None:
        click.echo(text, err=True)

    try:
        result = fit(
            family,
            data,
            run_dir,
            overrides,
            resume=resume,
            config_file=config_file,
            device=device,
            echo=echo,
        )
    except KeyboardInterrupt:
        sys.exit(130)
    if not result.is_main:
        return
    click.echo(f"finished at step {result.step}")
    if result.checkpoint:
        click.echo(f"checkpoint: {result.checkpoint}")
    if result.samples:
        click.echo(f"samples:    {result.samples}")
    for key, value in result.validation.items():
        click.echo(f"{key}: {value:.4g}")


def _add_builtin_commands() -> None:
    # These modules import nothing heavy at import time; their commands import on use.
    from imagexform.commands.app import app_command
    from imagexform.commands.batch import batch
    from imagexform.commands.doctor import doctor
    from imagexform.commands.evaluate import eval_command
    from imagexform.commands.export import export_command, import_command
    from imagexform.commands.models import models_group
    from imagexform.commands.plugins import plugins_group
    from imagexform.commands.prepare import prepare_group
    from imagexform.commands.serve import serve_command

    for command in (
        doctor,
        app_command,
        batch,
        export_command,
        import_command,
        models_group,
        eval_command,
        prepare_group,
        plugins_group,
        serve_command,
    ):
        cli.add_command(command)


_add_builtin_commands()


def main() -> None:
    cli()
