"""``imagexform serve``: the installed models over HTTP, for web pages and services.

FastAPI and uvicorn come with the ``serve`` extra; nothing here imports torch. The pieces:
``models`` (which files are served, under which names), ``admission`` (the bounded queue),
``requests`` (what one transform request asks for), ``work`` (bytes in, bytes out, in a worker
thread), ``limits`` and ``errors`` (upload limit, one-line JSON errors), ``app`` (the routes)
and ``command`` (the click command).
"""
