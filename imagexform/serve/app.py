"""The HTTP application: routes, the shared worker threads, and the request's life from
admission to answer.

A transform request is admitted (or refused at once with 503), its upload read within the size
and time limits, its fields checked against the model, and its work handed to one of
``workers`` threads that share each model's single ONNX Runtime session. While the work runs,
the request listens for the client going away and then stops the work within one tile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, Request, Response

import imagexform
from imagexform.serve import openapi
from imagexform.serve.admission import Admission
from imagexform.serve.auth import key_check
from imagexform.serve.config import ServeConfig
from imagexform.serve.errors import ApiError, install_error_handlers
from imagexform.serve.limits import BodyLimit
from imagexform.serve.models import describe
from imagexform.serve.params import parse_order
from imagexform.serve.uploads import read_upload
from imagexform.serve.work import Result, Upload, run_transform

if TYPE_CHECKING:
    from imagexform.runtime import RuntimeModel
    from imagexform.serve.params import TransformOrder


def create_app(models: Mapping[str, RuntimeModel], config: ServeConfig) -> FastAPI:
    """The app serving ``models`` by name; ``app.state.admission`` has its live counts."""
    admission = Admission(config.capacity)
    executor = ThreadPoolExecutor(config.workers, thread_name_prefix="imagexform-serve")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(
        title="imagexform",
        version=imagexform.__version__,
        description="Transform images with self-describing ONNX models.",
        lifespan=lifespan,
    )
    app.state.admission = admission
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=config.max_upload_bytes)

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/readyz", summary="Readiness: every model is loaded; the queue's counts")
    async def readyz() -> dict[str, object]:
        return {"ready": True, "models": sorted(models), **admission.snapshot()}

    work = _Work(models, config, admission, executor)
    dependencies = [Depends(key_check(config.api_key))] if config.api_key else []
    router = APIRouter(prefix="/v1", dependencies=dependencies)
    router.add_api_route("/models", work.list_models, methods=["GET"], summary="List models")
    router.add_api_route(
        "/models/{name}", work.model_info, methods=["GET"], summary="One model's description"
    )
    router.add_api_route(
        "/models/{name}/transform",
        work.transform,
        methods=["POST"],
        summary="Transform an image",
        response_class=Response,
        responses=openapi.TRANSFORM_RESPONSES,
        openapi_extra=openapi.TRANSFORM_REQUEST,
    )
    app.include_router(router)
    return app


class _Work:
    """The /v1 endpoints, over the models, the queue and the worker threads."""

    def __init__(
        self,
        models: Mapping[str, RuntimeModel],
        config: ServeConfig,
        admission: Admission,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.models = models
        self.config = config
        self.admission = admission
        self.executor = executor

    def _model(self, name: str) -> RuntimeModel:
        model = self.models.get(name)
        if model is None:
            served = ", ".join(sorted(self.models))
            raise ApiError(404, f"no model named {name!r}; served: {served}")
        return model

    async def list_models(self) -> dict[str, list[dict[str, object]]]:
        return {"models": [describe(name, model) for name, model in sorted(self.models.items())]}

    async def model_info(self, name: str) -> dict[str, object]:
        return describe(name, self._model(name))

    async def transform(self, name: str, request: Request) -> Response:
        """Admit, read, check, then run in a worker; 503 at once when the queue is full."""
        model = self._model(name)
        self.admission.enter()
        cancel = threading.Event()
        try:
            upload, fields = await read_upload(request, self.config.upload_seconds)
            order = parse_order(model, fields)
            future = self.executor.submit(self._run, model, upload, order, cancel)
        except BaseException:
            self.admission.leave()
            raise
        future.add_done_callback(lambda _: self.admission.leave())
        watcher = asyncio.create_task(_cancel_on_disconnect(request, cancel))
        try:
            result = await asyncio.wrap_future(future)
        finally:
            cancel.set()  # a no-op once the work is done; stops it if this task was cancelled
            watcher.cancel()
        return Response(result.data, media_type=result.media_type)

    def _run(
        self, model: RuntimeModel, upload: Upload, order: TransformOrder, cancel: threading.Event
    ) -> Result:
        with self.admission.working():
            return run_transform(model, upload, order, self.config, cancel)


async def _cancel_on_disconnect(request: Request, cancel: threading.Event) -> None:
    """Set ``cancel`` when the client disconnects. The body has been read, so the server's
    next message for this request is the disconnect (or the end of the response)."""
    while (await request.receive())["type"] != "http.disconnect":
        continue
    cancel.set()
