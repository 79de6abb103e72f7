"""Routes of the living service: items put, read and retired at runtime, and model reloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lmrec.service.engine import RecommendService
from lmrec.service.errors import Invalid, NotFound


class ItemPutResponse(BaseModel):
    item_id: str
    created: bool
    recommendable: bool = Field(description="Whether the served model can recommend it now.")
    note: str


class ItemResponse(BaseModel):
    item_id: str
    title: str
    source: str = Field(description="dataset | runtime")
    retired: bool
    recommendable: bool
    fields: dict[str, Any]


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    checkpoint: str | None = Field(
        None,
        max_length=4096,
        description="A folder written by `lmrec train` on the server's disk (default: the "
        "watched folder, else the one the service was started from).",
    )


class ReloadResponse(BaseModel):
    checkpoint: str
    model: str
    version: str
    trained_at: float | None
    seconds: float


Authorize = Callable[..., None]


def add_living_routes(app: FastAPI, service: RecommendService, authorize: Authorize) -> None:
    """``PUT``/``GET``/``DELETE /items/{item_id}`` and ``POST /admin/reload``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's 405 lists the methods of the first route matching the path only; one path
        # here has three routes (GET, PUT, DELETE /items/{id})
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            path = request.url.path
            allowed = {
                m
                for r in app.router.routes
                if isinstance(r, APIRoute) and r.path_regex.match(path)
                for m in r.methods or ()
            }
            headers["Allow"] = ", ".join(sorted(allowed))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.put("/items/{item_id:path}", response_model=ItemPutResponse)
    async def put_item(
        item_id: str,
        request: Request,
        response: Response,
        fields: dict[str, Any] = Body(  # as sent: check_item_fields is the one check
            ...,
            description='The item\'s catalogue fields, e.g. {"title": "…", "genre": ["…"]} '
            "(a new item needs the catalogue's title field).",
        ),
    ) -> ItemPutResponse:
        """Add or update an item; a text model recommends it from the next request."""
        authorize(request, write=True)
        put = (await run_in_threadpool(service.put_items, {item_id: fields}))[0]
        response.status_code = 201 if put.created else 200
        return ItemPutResponse(**dataclasses.asdict(put))

    @app.get("/items/{item_id:path}", response_model=ItemResponse)
    def get_item(item_id: str, request: Request) -> ItemResponse:
        """An item: its title, where it came from, its runtime fields, whether it can be
        recommended now."""
        from lmrec.service.catalogue import stored_item

        authorize(request)
        found = stored_item(service.store, _checked_id(item_id))
        if found is None:
            raise NotFound(f"unknown item {item_id!r}", "item_id")
        live = not found.retired and item_id in service.items
        return ItemResponse(**{**dataclasses.asdict(found), "recommendable": live})

    @app.delete("/items/{item_id:path}", status_code=204)
    async def retire_item(item_id: str, request: Request) -> Response:
        """Retire an item: never recommended again; histories keep it."""
        authorize(request, write=True)
        await run_in_threadpool(service.retire, _checked_id(item_id))
        return Response(status_code=204)

    @app.post("/admin/reload", response_model=ReloadResponse)
    async def reload(request: Request, req: ReloadRequest | None = None) -> ReloadResponse:
        """Load a checkpoint in the background, check it, swap it in (every worker follows);
        a refused checkpoint is a 422 and the old model keeps serving."""
        authorize(request, admin=True)
        wanted = req.checkpoint if req is not None and req.checkpoint else service.reload_from
        if wanted is None:
            raise Invalid(
                "give a 'checkpoint' folder: this service was started without --model-dir or "
                "--watch",
                "checkpoint",
            )
        swapped = await run_in_threadpool(service.swap_to, Path(wanted))
        return ReloadResponse(**dataclasses.asdict(swapped))


def _checked_id(item_id: str) -> str:
    """A path's item id, refused (422) before it reaches the store (PostgreSQL rejects NUL)."""
    from lmrec.data.runtime_items import ItemFieldError, check_item_id

    try:
        return check_item_id(item_id)
    except ItemFieldError as exc:
        raise Invalid(str(exc), "item_id") from None


def living_health(service: RecommendService) -> dict[str, Any]:
    """What ``/health`` says of the live model and the runtime catalogue."""
    live = service.slot.current
    return {
        "model_version": live.origin.version,
        "checkpoint": live.origin.checkpoint,
        "trained_at": live.origin.trained_at,
        "loaded_at": live.loaded_at,
        "swaps": service.slot.swaps,
        "last_refused": service.slot.refused,
        "runtime_items": len(service.catalogue.runtime),
        "retired_items": len(service.catalogue.retired),
        **(service.follower.health() if service.follower is not None else {}),
    }
