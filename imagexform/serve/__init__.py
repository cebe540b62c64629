"""``imagexform serve``: the installed models over HTTP, for web pages and services.

FastAPI and uvicorn come with the ``serve`` extra; nothing here imports torch. The pieces:
``models`` (which files are served, under which names), ``admission`` (the bounded queue),
``uploads`` and ``params`` (what one transform request sends and asks for), ``work`` (bytes
in, bytes out, in a worker thread), ``limits``, ``auth`` and ``errors`` (upload limit, API
key, one-line JSON errors), ``app`` and ``openapi`` (the routes and their schema), ``server``
(start-up); the click command is ``imagexform.commands.serve``.
"""
