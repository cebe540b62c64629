"""Start-up: choose and load the models, build the app, run uvicorn. Model problems surface
here, as one-line errors before the port opens, never as failing requests later."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import click

from imagexform.serve.config import ServeConfig, session_threads
from imagexform.serve.models import find_model_files, load_models


def serve(
    specs: Sequence[str],
    models_dir: Path | None,
    config: ServeConfig,
    *,
    host: str,
    port: int,
    device: str = "auto",
    threads: int = 0,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM, after the requests in progress finish)."""
    import uvicorn

    from imagexform.serve.app import create_app

    files = find_model_files(specs, models_dir)
    models = load_models(files, device=device, threads=session_threads(threads, config.workers))
    click.echo(f"serving {len(models)} model(s): {', '.join(sorted(models))}", err=True)
    if config.api_key is None and not _is_loopback(host):
        click.echo(f"warning: {host} is open to other machines and no API key is set", err=True)
    app = create_app(models, config)
    uvicorn.run(app, host=host, port=port, server_header=False, log_level="info")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
