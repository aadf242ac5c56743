"""The same small application on every framework the server matrix runs: `/items/<id>`
(reads a resource), `/boom` (raises), `/stream` (records events while its body streams),
`/health` (ignored by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse as FastAPIStreaming
from flask import Flask, Response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

import raceway
from raceway import Tracer, raceway_middleware


class BoomError(RuntimeError):
    pass


def _stream_chunks() -> Iterator[bytes]:
    for index in range(3):
        raceway.record_event("chunk", {"index": index})
        yield f"chunk{index}\n".encode()


async def _astream_chunks() -> AsyncIterator[bytes]:
    for chunk in _stream_chunks():
        yield chunk


def flask_app(tracer: Tracer) -> Any:
    app = Flask("matrix")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        raceway.track_state_read(f"item:{item_id}", 7)
        return {"id": item_id}

    @app.get("/boom")
    def boom() -> str:
        raise BoomError("kaput")

    @app.get("/stream")
    def stream() -> Response:
        return Response(_stream_chunks(), mimetype="text/plain")

    @app.get("/health")
    def health() -> str:
        return "ok"

    app.wsgi_app = raceway_middleware(app.wsgi_app, tracer=tracer)  # type: ignore[method-assign]
    return app


def bare_wsgi_app(tracer: Tracer) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        if path.startswith("/items/"):
            raceway.set_route("/items/:id")
            raceway.track_state_read(f"item:{path.rsplit('/', 1)[1]}", 7)
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"id": 1}']
        if path == "/boom":
            raise BoomError("kaput")
        if path == "/stream":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return _stream_chunks()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return raceway_middleware(app, tracer=tracer)


def fastapi_app(tracer: Tracer) -> Any:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        raceway.track_state_read(f"item:{item_id}", 7)
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise BoomError("kaput")

    @app.get("/stream")
    async def stream() -> FastAPIStreaming:
        return FastAPIStreaming(_astream_chunks(), media_type="text/plain")

    @app.get("/health")
    def health() -> str:
        return "ok"

    app.add_middleware(raceway.RacewayASGIMiddleware, tracer=tracer)
    return app


def starlette_app(tracer: Tracer) -> Any:
    async def item(request: Request) -> JSONResponse:
        item_id = request.path_params["item_id"]
        raceway.track_state_read(f"item:{item_id}", 7)
        return JSONResponse({"id": item_id})

    async def boom(_request: Request) -> JSONResponse:
        raise BoomError("kaput")

    async def stream(_request: Request) -> StreamingResponse:
        return StreamingResponse(_astream_chunks(), media_type="text/plain")

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse("ok")

    app = Starlette(
        routes=[
            Route("/items/{item_id:int}", item),
            Route("/boom", boom),
            Route("/stream", stream),
            Route("/health", health),
        ]
    )
    return raceway_middleware(app, tracer=tracer)


def flask_whole_app(tracer: Tracer) -> Any:
    """The Flask app object itself wrapped, rather than its `wsgi_app`."""
    app = flask_app(tracer)
    app.wsgi_app = app.wsgi_app.app  # unwrap what flask_app installed
    return raceway_middleware(app, tracer=tracer)


# name -> (factory, kind, route template of /items/<id>)
FRAMEWORKS: dict[str, tuple[Callable[[Tracer], Any], str, str]] = {
    "flask": (flask_app, "wsgi", "/items/<int:item_id>"),
    "flask-app": (flask_whole_app, "wsgi", "/items/<int:item_id>"),
    "wsgi": (bare_wsgi_app, "wsgi", "/items/:id"),
    "fastapi": (fastapi_app, "asgi", "/items/{item_id}"),
    "starlette": (starlette_app, "asgi", "/items/{item_id:int}"),
}
