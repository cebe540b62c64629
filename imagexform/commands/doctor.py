"""``imagexform doctor``: what is installed, and known-bad combinations with their fixes."""

from __future__ import annotations

import sys

import click


@click.command()
def doctor() -> None:
    """Check the installation: versions, providers, plugins, and known-bad combinations
    (each with its fix). Exit status 1 when a problem is found."""
    from imagexform.doctor import examine

    findings = examine()
    width = max(len(name) for name, _ in findings.facts)
    for name, value in findings.facts:
        click.echo(f"{name:<{width}}  {value}")
    for what, fix in findings.problems:
        click.echo(f"problem: {what}\n    fix: {fix}")
    click.echo(f"{len(findings.problems) or 'no'} problem(s) found")
    if findings.problems:
        sys.exit(1)
