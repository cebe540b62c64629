"""The ``imagexform`` command.

Start-up and ``--help`` must stay fast and torch-free: every command imports its heavy
modules inside its function body, and plugins add their commands through a hook.
"""

from __future__ import annotations

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
    from imagexform.commands.train import train

    for command in (
        train,
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
