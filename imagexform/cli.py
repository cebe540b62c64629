"""The ``imagexform`` command.

Start-up and ``--help`` must stay fast and torch-free: every command imports its heavy
modules inside its function body, and plugins add their commands through a hook.
"""

from __future__ import annotations

import sys
import warnings
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
    from imagexform.config import apply_text, apply_values, load_toml, parse_assignments, to_toml
    from imagexform.plugins import host

    plugin_host = host()
    family = plugin_host.family(family_name)
    if show_config:
        click.echo(f"# {family.name}: {family.summary}\n# data: {family.dataset_layout}")
        click.echo(to_toml(family.config_class()), nl=False)
        return
    if run_dir is None:
        raise UserError("train needs --out RUN (the run directory)")
    overrides = parse_assignments(assignments)
    file_values = load_toml(config_file) if config_file else {}

    from imagexform.train.checkpoint import find_checkpoint, load_checkpoint
    from imagexform.train.distributed import World
    from imagexform.train.interrupts import StopRequested
    from imagexform.train.trainer import Trainer

    world = World.from_environment()  # under torchrun, only rank 0 speaks

    checkpoint = None
    if run_dir.exists() and find_checkpoint(run_dir) is not None:
        checkpoint = load_checkpoint(run_dir, expected_family=family.name)
    elif resume:
        raise UserError(f"{run_dir}: no checkpoint to resume from")
    if checkpoint is not None:
        base = apply_values(family.config_class(), checkpoint.meta["config"])
        data = data or Path(checkpoint.meta["data_root"])
        if world.is_main:
            click.echo(f"resuming {checkpoint.path} at step {checkpoint.step}", err=True)
    else:
        base = family.config_class()
    config = apply_text(apply_values(base, file_values), overrides)
    if data is None:
        raise UserError("train needs --data DIR (the dataset folder)")

    owner = plugin_host.records[plugin_host.family_owner(family.name)]
    # Dataset warnings (skipped files) already name the file: show each as one plain line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trainer = Trainer(
                family,
                config,
                data_root=data,
                run_dir=run_dir,
                device=device,
                plugin={"name": owner.name, "version": owner.version},
                resume=checkpoint,
                world=world,
            )
        finally:
            for warning in caught if world.is_main else ():
                click.echo(f"warning: {warning.message}", err=True)
    together = False
    try:
        result = trainer.run()
        together = True
    except KeyboardInterrupt as stop:
        together = isinstance(stop, StopRequested)
        if trainer.is_main:
            click.echo(
                f"\ninterrupted at step {trainer.step}; checkpoint saved. Resume with: "
                f"imagexform train {family.name} --out {run_dir}",
                err=True,
            )
        sys.exit(130)
    finally:
        trainer.world.leave(together)
    if not trainer.is_main:
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
