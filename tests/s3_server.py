"""A local S3 server (moto) on 127.0.0.1 for the object-storage tests: the real s3fs client
finds it through the usual AWS environment variables, as it would find a real bucket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_s3(bucket: str) -> Iterator[object]:
    """An s3fs filesystem on a fresh server holding an empty ``bucket``; the AWS variables
    point at the server until the block ends (processes started meanwhile inherit them)."""
    from moto.server import ThreadedMotoServer
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()  # instances bound to an earlier server's address
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    patch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }.items():
        patch.setenv(name, value)
    try:
        fs = S3FileSystem(skip_instance_cache=True)
        fs.mkdir(bucket)
        yield fs
    finally:
        patch.undo()
        server.stop()
        S3FileSystem.clear_instance_cache()
