"""The runtime and the server never import torch (architecture invariant 1), nor onnx, which
only the optional int8 preparation needs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("onnx")
import onnx_models as om  # needs onnx, hence after importorskip

CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import imagexform.runtime
    model = imagexform.runtime.load_model(sys.argv[1])
    image = np.zeros((40, 30, 4), np.uint8)
    model.transform(image, tile_size=16, overlap=4)
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps([name for name in loaded if name in ("torch", "onnx", "torchvision")]))
    """
)


def test_running_a_model_imports_neither_torch_nor_onnx(tmp_path):
    path = om.upscaler(tmp_path / "x2.onnx", 2)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == []


SERVE_CHILD = textwrap.dedent(
    """
    import json, sys, threading
    import cv2, numpy as np
    import imagexform.cli
    cli_light = not {"fastapi", "uvicorn", "onnxruntime"} & set(sys.modules)
    from imagexform.serve.app import create_app
    from imagexform.serve.config import ServeConfig
    from imagexform.serve.models import load_models
    from imagexform.serve.params import parse_order
    from imagexform.serve.work import Upload, run_transform
    models = load_models({"x2": sys.argv[1]})
    create_app(models, ServeConfig())
    data = cv2.imencode(".png", np.zeros((40, 30, 3), np.uint8))[1].tobytes()
    order = parse_order(models["x2"], [("format", "png")])
    run_transform(models["x2"], Upload(data), order, ServeConfig(), threading.Event())
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    heavy = [name for name in loaded if name in ("torch", "onnx", "torchvision")]
    print(json.dumps({"cli_light": cli_light, "heavy": heavy}))
    """
)


def test_serving_imports_neither_torch_nor_onnx_and_the_cli_not_even_fastapi(tmp_path):
    pytest.importorskip("fastapi")
    path = om.upscaler(tmp_path / "x2.onnx", 2)
    child = subprocess.run(
        [sys.executable, "-c", SERVE_CHILD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {"cli_light": True, "heavy": []}
