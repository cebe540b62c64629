"""The ``imagexform serve`` click command.

Only click and light modules load here, so ``imagexform --help`` stays fast; FastAPI,
uvicorn, OpenCV and ONNX Runtime load when the server starts.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import click

from imagexform.errors import UserError
from imagexform.io import DEFAULT_MAX_PIXELS
from imagexform.serve.config import DEFAULT_MAX_UPLOAD_MB, OPENCV_PIXEL_LIMIT, ServeConfig

SERVE_EXTRA = ("fastapi", "uvicorn", "multipart")  # the modules the serve extra installs


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model_specs", nargs=-1, metavar="[MODEL|NAME]...")
@click.option(
    "--models-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Serve the models of this folder (all, or those NAMEd). "
    "Default: the user's model folder and the shipped models.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Images transformed at once (threads sharing each model's session).",
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=0),
    default=8,
    show_default=True,
    help="Requests held beyond --workers; more are answered 503 with Retry-After.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1, OPENCV_PIXEL_LIMIT),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse larger images before decoding them.",
)
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(0, min_open=True),
    default=DEFAULT_MAX_UPLOAD_MB,
    show_default=True,
    help="Refuse larger request bodies (413).",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="Require the API key held in this environment variable.",
)
@click.option("--tile", type=click.IntRange(min=0), help="As batch's --tile.")
@click.option("--overlap", type=click.IntRange(min=0), help="As batch's --overlap.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="ONNX Runtime threads per model run; 0: the CPU cores shared out among the workers.",
)
def serve_command(
    model_specs: tuple[str, ...],
    models_dir: Path | None,
    host: str,
    port: int,
    workers: int,
    max_queue: int,
    max_pixels: int,
    max_upload_mb: float,
    api_key_env: str | None,
    tile: int | None,
    overlap: int | None,
    device: str,
    threads: int,
) -> None:
    """Serve models over HTTP: GET /v1/models lists them, POST /v1/models/NAME/transform
    transforms an image (docs page at /docs). Listens on 127.0.0.1 unless --host says
    otherwise."""
    missing = [name for name in SERVE_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"the server needs {', '.join(missing)}: pip install 'imagexform[serve]'")
    from imagexform.serve.server import serve

    config = ServeConfig(
        workers=workers,
        max_queue=max_queue,
        max_pixels=max_pixels,
        max_upload_bytes=int(max_upload_mb * 2**20),
        api_key=_api_key(api_key_env),
        tile_size=tile,
        overlap=overlap,
    )
    serve(model_specs, models_dir, config, host=host, port=port, device=device, threads=threads)


def _api_key(variable: str | None) -> str | None:
    if variable is None:
        return None
    key = os.environ.get(variable, "")
    if not key:
        raise UserError(f"--api-key-env {variable}: the environment variable is not set or empty")
    return key
