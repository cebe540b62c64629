"""``imagexform serve`` through a real uvicorn server on 127.0.0.1, driven by httpx.

The server runs in a thread of the test process on a socket that is listening before the
server starts, so clients connect at once without waiting for start-up; tests that need a
state of the queue wait on ``Admission.changed`` for it, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("onnx")
import httpx
import onnx_models as om
import uvicorn
from click.testing import CliRunner
from handmade import exif_block, icc_profile

from imagexform.cli import cli
from imagexform.errors import UserError
from imagexform.family import ConditionSpec, IOSpec
from imagexform.io.metadata import ImageMetadata, extract_metadata, insert_metadata
from imagexform.serve.admission import Admission
from imagexform.serve.app import create_app
from imagexform.serve.config import ServeConfig
from imagexform.serve.models import find_model_files, load_models

ROOT = Path(__file__).resolve().parents[1]
SR = ROOT / "assets" / "models" / "imagexform-sr-x4.onnx"
PHOTO = ROOT / "assets" / "photos" / "chelsea.jpg"
KEY = "s3cret-key"
HAIR = ConditionSpec(
    name="attributes",
    labels=("Black_Hair", "Blond_Hair"),
    defaults=(0.0, 0.0),
    groups=(("Black_Hair", "Blond_Hair"),),
    value_range=(-0.5, 0.5),
)


@dataclass
class Server:
    url: str
    admission: Admission

    def transform_url(self, model: str = "imagexform-sr-x4") -> str:
        return f"{self.url}/v1/models/{model}/transform"

    def wait_for(self, ready: Callable[[Admission], bool]) -> None:
        """Block until the server's counts satisfy ``ready`` (woken by every change)."""
        with self.admission.changed:
            assert self.admission.changed.wait_for(lambda: ready(self.admission), timeout=60)


@contextmanager
def running(models: Mapping[str, object], config: ServeConfig) -> Iterator[Server]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # clients queue here until the server accepts
    app = create_app(models, config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{listener.getsockname()[1]}", app.state.admission)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        listener.close()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("models")
    om.shifter(folder / "hair.onnx", HAIR, om.model_info(IOSpec((0.0, 1.0), conditions=(HAIR,))))
    return load_models(find_model_files([str(SR), str(folder / "hair.onnx")]))


@pytest.fixture
def serve(models: dict[str, object]) -> Iterator[Callable[..., Server]]:
    with ExitStack() as stack:
        yield lambda **config: stack.enter_context(running(models, ServeConfig(**config)))


def photo(width: int = 40, height: int = 32, seed: int = 0, metadata: bool = False) -> bytes:
    """A crop of a real photo as JPEG, optionally with EXIF (rotated 90°) and an ICC profile."""
    image = cv2.imread(str(PHOTO))
    top, left = 20 + seed * 7, 30 + seed * 11
    ok, data = cv2.imencode(".jpg", image[top : top + height, left : left + width])
    assert ok
    if metadata:
        return insert_metadata(data.tobytes(), ImageMetadata(exif_block(6), icc_profile()))
    return data.tobytes()


def png(width: int = 40, height: int = 32) -> bytes:
    ok, data = cv2.imencode(".png", cv2.imread(str(PHOTO))[:height, :width])
    assert ok
    return data.tobytes()


def batch_output(tmp_path: Path, data: bytes, *options: str, model: Path = SR) -> bytes:
    """What ``imagexform batch --format png`` writes for ``data``."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "photo.jpg").write_bytes(data)
    args = ["batch", tmp_path / "in", tmp_path / "out", "--model", model, "--format", "png"]
    result = CliRunner().invoke(cli, [*map(str, args), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return (tmp_path / "out" / "photo.png").read_bytes()


def assert_one_line_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    for word in words:
        assert word in body["error"]


def test_transform_is_byte_for_byte_what_batch_writes(serve, tmp_path):
    data = photo(metadata=True)
    server = serve()
    response = httpx.post(
        server.transform_url(),
        files={"image": ("photo.jpg", data, "image/jpeg")},
        data={"format": "png"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content == batch_output(tmp_path, data)
    carried = extract_metadata(response.content)
    assert carried.exif and carried.icc == icc_profile()


def test_raw_body_with_query_fields_conditions_and_adjustments_matches_batch(
    serve, models, tmp_path
):
    hair = models["hair"].path
    data = photo()
    server = serve()
    response = httpx.post(
        server.transform_url("hair") + "?format=png&Blond_Hair=0.25&strength=0.5",
        content=data,
        headers={"content-type": "image/jpeg"},
    )
    assert response.status_code == 200, response.text
    expected = batch_output(
        tmp_path, data, "--set", "Blond_Hair=0.25", "--strength", "0.5", model=hair
    )
    assert response.content == expected
    plain = httpx.post(server.transform_url("hair") + "?format=png", content=data)
    assert plain.content != expected  # the fields were applied, not ignored


def test_same_format_by_default_and_jpeg_on_request(serve):
    server = serve()
    as_png = httpx.post(server.transform_url(), content=png())
    as_jpg = httpx.post(server.transform_url(), files={"image": png()}, data={"format": "jpg"})
    assert as_png.headers["content-type"] == "image/png"
    assert as_jpg.headers["content-type"] == "image/jpeg"
    decoded = cv2.imdecode(np.frombuffer(as_jpg.content, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (32 * 4, 40 * 4, 3)


def test_models_describe_themselves_from_their_metadata(serve):
    server = serve()
    listed = {m["name"]: m for m in httpx.get(f"{server.url}/v1/models").json()["models"]}
    assert listed["imagexform-sr-x4"]["scale"] == 4
    assert listed["imagexform-sr-x4"]["family"] == "sr"
    assert "×4" in listed["imagexform-sr-x4"]["task"]
    assert listed["hair"]["conditions"] == [
        {
            "name": "attributes",
            "labels": ["Black_Hair", "Blond_Hair"],
            "groups": [["Black_Hair", "Blond_Hair"]],
            "defaults": [0.0, 0.0],
            "value_range": [-0.5, 0.5],
        }
    ]
    assert httpx.get(f"{server.url}/v1/models/hair").json() == listed["hair"]


def test_health_readiness_and_generated_docs(serve):
    server = serve()
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "live"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready["ready"] and ready["models"] == ["hair", "imagexform-sr-x4"]
    schema = httpx.get(f"{server.url}/openapi.json").json()
    body = schema["paths"]["/v1/models/{name}/transform"]["post"]["requestBody"]
    assert "multipart/form-data" in body["content"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_api_key_is_required_on_the_api_but_not_for_health(serve):
    server = serve(api_key=KEY)
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert_one_line_error(httpx.get(f"{server.url}/v1/models"), 401, "API key")
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{server.url}/v1/models", headers=bearer).status_code == 200
    assert httpx.get(f"{server.url}/v1/models", headers={"X-API-Key": KEY}).status_code == 200


def _chunked(data: bytes) -> Iterator[bytes]:
    """A body without Content-Length, so only counting while it arrives can limit it."""
    for start in range(0, len(data), 8192):
        yield data[start : start + 8192]


BAD_INPUT: dict[str, tuple[dict[str, object], int, tuple[str, ...]]] = {
    "not an image": ({"content": b"hello, not a picture"}, 400, ("upload", "not a PNG")),
    "truncated image": ({"content": png()[:300]}, 400, ("truncated",)),
    "zero bytes": ({"content": b""}, 400, ("0 bytes",)),
    "over the pixel limit": ({"content": png(64, 48)}, 413, ("64×48", "limit")),
    "unknown model": ({"model": "no-such-model", "content": png()}, 404, ("no-such-model",)),
    "unknown condition label": (
        {"model": "hair", "content": png(), "params": {"Red_Hair": "1"}},
        400,
        ("Red_Hair", "unknown condition", "Blond_Hair"),
    ),
    "wrong API key": ({"key": "wrong", "content": png()}, 401, ("API key",)),
    "model name with ../": (
        {"model": "..%2F..%2Fassets%2Fmodels%2Fimagexform-sr-x4", "content": png()},
        404,
        (),
    ),
    "upload file name with ../": ({"files": {"image": ("../../x.png", png())}}, 400, ("../",)),
    "body over the size limit": ({"content": b"\x89PNG" + bytes(70_000)}, 413, ("limit",)),
    "chunked body over the size limit": (
        {"content": _chunked(bytes(70_000))},
        413,
        ("limit",),
    ),
    "bad field value": ({"content": png(), "params": {"quality": "high"}}, 400, ("quality",)),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_bad_input_is_a_one_line_4xx_and_the_server_keeps_serving(serve, case):
    request, status, words = BAD_INPUT[case]
    request = dict(request)
    server = serve(api_key=KEY, max_pixels=40 * 32, max_upload_bytes=64 * 1024)
    key = request.pop("key", KEY)
    url = server.transform_url(str(request.pop("model", "imagexform-sr-x4")))
    response = httpx.post(url, headers={"X-API-Key": str(key)}, **request)
    assert_one_line_error(response, status, *words)
    again = httpx.post(server.transform_url(), headers={"X-API-Key": KEY}, content=png())
    assert again.status_code == 200, again.text


def test_sixteen_concurrent_clients_all_get_correct_results(serve):
    server = serve(workers=2, max_queue=16)
    images = [photo(24, 24, seed) for seed in range(4)]
    expected = [httpx.post(server.transform_url(), content=image).content for image in images]

    async def client(index: int, http: httpx.AsyncClient) -> list[bool]:
        correct = []
        for round_ in range(3):
            which = (index + round_) % len(images)
            response = await http.post(server.transform_url(), content=images[which])
            correct.append(response.status_code == 200 and response.content == expected[which])
        return correct

    async def main() -> list[list[bool]]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=16)) as http:
            return await asyncio.gather(*(client(index, http) for index in range(16)))

    results = asyncio.run(main())
    assert all(all(correct) for correct in results)
    assert server.admission.snapshot()["served"] == 4 + 16 * 3


def _stalled(data: bytes, go: threading.Event) -> Iterator[bytes]:
    """The first bytes of an upload, then the rest once ``go`` is set."""
    yield data[:16]
    go.wait(60)
    yield data[16:]


def test_a_full_queue_answers_503_at_once_and_serves_the_admitted(serve):
    server = serve(workers=1, max_queue=1)
    data = png()
    expected = httpx.post(server.transform_url(), content=data).content
    go = threading.Event()
    answers: list[httpx.Response] = []

    def slow_client() -> None:
        answers.append(httpx.post(server.transform_url(), content=_stalled(data, go), timeout=60))

    clients = [threading.Thread(target=slow_client) for _ in range(2)]
    for thread in clients:
        thread.start()
    server.wait_for(lambda admission: admission.in_flight == 2)

    async def sixteen_more() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            posts = (http.post(server.transform_url(), content=data) for _ in range(16))
            return await asyncio.gather(*posts)

    for refused in asyncio.run(sixteen_more()):
        assert_one_line_error(refused, 503, "busy")
        assert refused.headers["retry-after"] == "1"
    go.set()
    for thread in clients:
        thread.join(60)
    assert [answer.content == expected for answer in answers] == [True, True]
    assert server.admission.snapshot()["refused"] == 16


def test_a_client_that_disconnects_stops_its_work(serve):
    server = serve(workers=1, tile_size=16)
    image = cv2.resize(cv2.imread(str(PHOTO)), (192, 192))
    data = cv2.imencode(".png", image)[1].tobytes()
    head = (
        "POST /v1/models/imagexform-sr-x4/transform HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: image/png\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(head.encode() + data)
        server.wait_for(lambda admission: admission.running == 1)
    server.wait_for(lambda admission: admission.in_flight == 0)
    counts = server.admission.snapshot()
    assert (counts["cancelled"], counts["served"]) == (1, 0)
    assert httpx.post(server.transform_url(), content=png()).status_code == 200


def test_names_are_looked_up_in_the_models_folder_only(tmp_path):
    (tmp_path / "models").mkdir()
    om.identity(tmp_path / "models" / "inside.onnx")
    om.identity(tmp_path / "outside.onnx")
    assert find_model_files([], tmp_path / "models") == {"inside": tmp_path / "models/inside.onnx"}
    assert list(find_model_files(["inside"], tmp_path / "models")) == ["inside"]
    with pytest.raises(UserError, match=r"no model outside\.onnx in"):
        find_model_files(["outside"], tmp_path / "models")


def test_cli_serves_and_refuses_a_missing_key_variable(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", str(SR), "--api-key-env", "IMAGEXFORM_TEST_NO_KEY"])
    assert result.exit_code == 2
    assert "IMAGEXFORM_TEST_NO_KEY" in result.output
    result = runner.invoke(cli, ["serve", "--models-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no .onnx models" in result.output
