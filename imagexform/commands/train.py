"""``imagexform train``: argument parsing only; :func:`imagexform.train.fit` does the work."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imagexform.errors import UserError


@click.command()
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
