"""The transform endpoint's OpenAPI description. The endpoint reads its body itself (to limit
and time the upload, and to accept both multipart and raw bodies), so FastAPI cannot derive
the request's shape from its signature; it is written out here for the schema and docs page."""

from __future__ import annotations

from typing import Any

from imagexform.batch.plan import FORMATS
from imagexform.serve.work import MEDIA_TYPES

_OPTIONS: list[tuple[str, dict[str, Any], str]] = [
    (
        "format",
        {"type": "string", "enum": ["same", *FORMATS], "default": "same"},
        "Output format; same: the upload's own.",
    ),
    ("quality", {"type": "integer", "minimum": 1, "maximum": 100, "default": 95}, "JPEG/WebP."),
    (
        "strength",
        {"type": "number", "minimum": 0, "maximum": 1, "default": 1},
        "1 is the model's output, 0 the input (resized).",
    ),
    (
        "preserve_color",
        {"type": "boolean", "default": False},
        "Keep the input's colours, take the result's luminance.",
    ),
    (
        "outscale",
        {"type": "number", "exclusiveMinimum": 0, "maximum": 16},
        "Resize the result to this many times the input's size.",
    ),
    (
        "metadata",
        {"type": "string", "enum": ["keep", "strip"], "default": "keep"},
        "Carry the upload's EXIF (orientation reset) and ICC profile, or not.",
    ),
]
_CONDITIONS = (
    "Any other field (query or form) is a model condition, by name (`shift=0.1,0`) or label "
    "(`Blond_Hair=1`), as `imagexform batch --set` takes it; GET /v1/models lists them."
)

TRANSFORM_REQUEST: dict[str, Any] = {
    "description": "The image as a multipart upload (field `image`, options as form fields) "
    "or as the raw body (options in the query). " + _CONDITIONS,
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
        for name, schema, text in _OPTIONS
    ],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        **{name: schema for name, schema, _ in _OPTIONS},
                    },
                    "additionalProperties": {"type": "string"},
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    },
}

_ERROR = {"application/json": {"example": {"error": "photo.jpg: not a decodable image"}}}
TRANSFORM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The transformed image, EXIF and ICC carried over as batch does.",
        "content": {media: {} for media in MEDIA_TYPES.values()},
    },
    400: {"description": "Not a usable image, or a bad field.", "content": _ERROR},
    401: {"description": "Missing or wrong API key.", "content": _ERROR},
    404: {"description": "No model of that name.", "content": _ERROR},
    413: {"description": "Upload or image over the server's limits.", "content": _ERROR},
    503: {"description": "Queue full (see Retry-After).", "content": _ERROR},
}
