"""Reading a transform request's image and fields: a multipart form (the ``image`` file and
its fields) or the image as the raw body with the fields in the query string, whatever its
Content-Type says (``curl --data-binary`` calls every body a urlencoded form).

The upload's file name only names the image in messages; still, one with a folder part
(``../x.png``) is refused, since no legitimate client sends one (browsers and curl send the
bare name) and echoing it back would invite misuse by whatever logs it.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from fastapi import Request
from starlette.datastructures import UploadFile

from imagexform.serve.errors import ApiError
from imagexform.serve.work import Upload

IMAGE_FIELD = "image"
MAX_FIELDS = 64


async def read_upload(request: Request, timeout: float) -> tuple[Upload, list[tuple[str, str]]]:
    """The image and the request's fields (query first, then form), within ``timeout``
    seconds so a client trickling its upload cannot hold a place in the queue for ever."""
    fields = list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").lower()
    try:
        async with asyncio.timeout(timeout):
            if content_type.startswith("multipart/form-data"):
                upload, form_fields = await _multipart(request)
                return upload, fields + form_fields
            return Upload(await request.body()), fields
    except TimeoutError:
        raise ApiError(408, f"the upload took longer than {timeout:g} s") from None


async def _multipart(request: Request) -> tuple[Upload, list[tuple[str, str]]]:
    form = await request.form(max_files=1, max_fields=MAX_FIELDS)
    try:
        fields: list[tuple[str, str]] = []
        image: UploadFile | None = None
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != IMAGE_FIELD:
                    raise ApiError(400, f"file field {key!r}: send the image as {IMAGE_FIELD!r}")
                image = value
            else:
                fields.append((key, value))
        if image is None:
            raise ApiError(400, f"the form has no {IMAGE_FIELD!r} file field")
        return Upload(await image.read(), _filename(image.filename)), fields
    finally:
        await form.close()


def _filename(name: str | None) -> str:
    if not name:
        return "upload"
    if "\\" in name or name in (".", "..") or PurePosixPath(name).name != name:
        raise ApiError(400, f"upload file name {name!r}: expected a bare file name, no folders")
    return name
