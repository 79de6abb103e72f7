"""The HTTP API (FastAPI): request/response models, routes, error mapping, body-size limit.

Every refusal is a JSON body ``{"detail": message, "field": name}`` with a 4xx status; pydantic
validation errors keep FastAPI's 422 format (``detail`` lists each failing location).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Header, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from lmrec.data.people import merge_histories
from lmrec.service.admission import Admission
from lmrec.service.api_living import add_living_routes, living_health
from lmrec.service.body_limit import BodyLimit
from lmrec.service.engine import RecommendService
from lmrec.service.errors import Invalid, Overloaded, ServiceError
from lmrec.service.keys import AuthPolicy
from lmrec.service.messages import RecommendQuery

PAGE = Path(__file__).resolve().parent / "static" / "index.html"
# ids go into SQL text columns: no control characters (PostgreSQL refuses NUL)
NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
Id = Field(min_length=1, max_length=128, pattern=NO_CONTROL)


class RecommendRequest(BaseModel):
    # the document says what the service needs: at least one of user_id, history, text
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # JSON types as declared: true is not a number, "3" is not 3
        json_schema_extra={
            "anyOf": [{"required": [f]} for f in ("user_id", "history", "histories", "text")]
        },
    )

    user_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=NO_CONTROL, description="A stored user."
    )
    history: list[str] | None = Field(
        None, description="Ad-hoc history of item ids, oldest first (overrides the stored one)."
    )
    histories: dict[str, list[str]] | None = Field(
        None,
        description="A joint model: per-domain histories of original item ids, oldest first, "
        "merged into one with the other domains first and `domain`'s last (needs `domain`; "
        "instead of `history`).",
    )
    domain: str | None = Field(
        None, description="A joint model: recommend only this domain's items (e.g. amazon-games)."
    )
    text: list[str] | None = Field(None, description="Free-text history (text models only).")
    k: int | None = Field(None, ge=1, description="How many items (1..max_k; default 10 or max_k).")
    exclude: list[str] = Field(default_factory=list, description="Item ids never to return.")
    exclude_history: bool = True
    explain: bool = False


def request_fields(req: RecommendRequest) -> dict[str, Any]:
    """The engine's query fields: per-domain ``histories`` become one merged ``history``."""
    fields = req.model_dump(exclude={"histories"})
    if req.histories is not None:
        if req.history is not None:
            raise Invalid("give either 'history' or 'histories', not both", "histories")
        if req.domain is None:
            raise Invalid("'histories' needs 'domain': the domain to recommend in", "domain")
        fields["history"] = list(merge_histories(req.histories, req.domain))
    return fields


class RecommendedItem(BaseModel):
    item_id: str
    title: str
    score: float
    explanation: str | None = None
    evidence: dict[str, Any] | None = Field(
        None,
        description="With explain: the history items cited, their score drops (the item's score "
        "without each) and the counterfactual set (removing it pushes the item out of the top k).",
    )


class RecommendResponse(BaseModel):
    user_id: str | None
    model: str
    model_version: str = Field("", description="Changes with every swapped-in checkpoint.")
    history_length: int
    items: list[RecommendedItem]


class WhyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: str = Id
    item_id: str = Id


class WhyResponse(BaseModel):
    item_id: str
    text: str
    source: str
    seconds: float
    removed: int
    evidence: dict[str, Any] | None = None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: str = Id
    item_id: str = Id
    kind: Literal["click", "rating", "purchase"] = Field(description="The kind of event.")
    value: float | None = Field(None, description="The rating (ratings only).")
    timestamp: float | None = Field(None, description="Seconds since the epoch; default: now.")
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=NO_CONTROL,
        description="Unique per event; a retry with the same key is recorded once. "
        "May be sent as the Idempotency-Key header instead.",
    )


class FeedbackResponse(BaseModel):
    id: int
    duplicate: bool


class UserResponse(BaseModel):
    user_id: str
    n_interactions: int
    history: list[dict[str, str]]
    interests: list[dict[str, Any]]
    profile: str = Field("", description="The interests in one sentence, with counts.")


class ItemsResponse(BaseModel):
    items: list[dict[str, str]]


def _printable(value: Any) -> str | int:
    """A location part or message that JSON (UTF-8, no NaN) can always carry."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors as ``{loc, msg, type}`` (the documented schema), without the input."""
    return [
        {
            "loc": [_printable(p) for p in e.get("loc", ())],
            "msg": _printable(e.get("msg", "")),
            "type": _printable(e.get("type", "")),
        }
        for e in errors
    ]


class Refusal(BaseModel):
    """Every 4xx / 503 answer: what is wrong, the field at fault, and (422) each error."""

    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


REFUSALS: dict[int | str, dict[str, Any]] = {
    code: {"model": Refusal, "description": what}
    for code, what in (
        (400, "Malformed request"),
        (401, "An API key is needed, or the one given is unknown or revoked"),
        (403, "The API key's scope does not allow this, or the service is read-only"),
        (404, "Unknown user or item"),
        (409, "An idempotency key reused for a different event"),
        (413, "Request body too large"),
        (422, "A field the service refuses"),
        (503, "Overloaded or past the deadline; retry after Retry-After seconds"),
    )
}


def presented_key(request: Request) -> str | None:
    """The API key of a request: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return bearer[7:].strip() or None
    return request.headers.get("x-api-key") or None


def create_app(service: RecommendService, auth: AuthPolicy | None = None) -> FastAPI:
    """The app over a ready service (the caller owns the service's lifetime); ``auth`` decides
    which requests need an API key (default: writes need one unless bound to loopback)."""
    app = FastAPI(
        title="lmrec",
        summary="Recommendations, feedback, users and items of one dataset and model.",
        version="0.1.0",
        responses=REFUSALS,
    )
    app.add_middleware(BodyLimit, max_bytes=service.limits.max_body_bytes)
    app.state.service = service

    policy = auth or AuthPolicy()

    def authorize(request: Request, write: bool = False, admin: bool = False) -> None:
        policy.check(service.store, write, presented_key(request), admin)

    admission = Admission(service.limits)
    app.state.admission = admission
    limits = service.limits

    @app.exception_handler(ServiceError)
    async def refused(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else None
        body = {"detail": exc.message, "field": exc.field}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(SQLAlchemyError)
    async def store_failed(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # disk full, read-only file, lost connection: a 503 with a retry, never a 500
        return await refused(request, service.store_health.failed(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # one shape for every refusal (Refusal); FastAPI's default also echoed the input, and
        # NaN or a lone surrogate there made it a 500
        errors = safe_errors(exc.errors())
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        field = ".".join(str(p) for p in first["loc"][1:]) or None
        body = {"detail": f"{field or 'request'}: {first['msg']}", "field": field, "errors": errors}
        return JSONResponse(body, status_code=422)

    @app.get("/health")
    async def health() -> dict[str, Any]:  # on the event loop: never queued behind scoring
        stats = service.batcher.stats
        return {
            "status": "degraded" if service.store_health.problem else "ok",
            "dataset": service.dataset.name,
            "model": service.model_name,
            "items": len(service.items),
            "store": service.store.url,
            "schema_revision": service.schema_revision,
            "scored_batches": stats.batches,
            "mean_batch": round(stats.mean_batch, 2),
            "search_recall_at_10": service.search_recall,  # null: exact search
            "pid": os.getpid(),  # which worker process answered
            **admission.stats.as_dict(),
            **living_health(service),
            **service.store_health.as_dict(),
        }

    @app.post("/recommend", response_model=RecommendResponse)
    async def recommend(req: RecommendRequest, request: Request) -> Response:
        """Top-k items for a stored user, an ad-hoc history of item ids, or a free text."""
        authorize(request)
        query = RecommendQuery(**request_fields(req))
        async with admission.slot():  # past max_pending: 503 at once
            if req.text or req.explain:  # encoder / explanation work: its own few threads
                work = admission.in_threads("text", limits.text_workers, service.recommend, query)
                result = await admission.within_deadline(work)
            else:  # read the history, queue the scoring job, await it without holding a thread
                pending = service.start(query)
                assert pending.job is not None
                job = asyncio.wrap_future(pending.job.future)
                ranking = await admission.within_deadline(job)
                result = service.complete(pending, ranking)
        body = {  # RecommendResult has RecommendResponse's fields (dataclasses.asdict: 4x slower)
            "user_id": result.user_id,
            "items": [
                {
                    "item_id": i.item_id,
                    "title": i.title,
                    "score": i.score,
                    "explanation": i.explanation,
                    **({"evidence": i.evidence} if i.evidence is not None else {}),
                }
                for i in result.items
            ],
            "history_length": result.history_length,
            "model": result.model,
            "model_version": result.model_version,
        }
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    @app.post("/why", response_model=WhyResponse)
    async def why(req: WhyRequest, request: Request) -> WhyResponse:
        """Why this item: a language model's grounded text when the service has one."""
        authorize(request)
        view = await run_in_threadpool(service.why, req.user_id, req.item_id)
        return WhyResponse(**dataclasses.asdict(view))

    @app.post("/feedback", response_model=FeedbackResponse)
    async def feedback(
        req: FeedbackRequest,
        request: Request,
        idempotency_key: str | None = Header(
            None, alias="Idempotency-Key", max_length=128, pattern=NO_CONTROL
        ),
    ) -> FeedbackResponse:
        authorize(request, write=True)
        if req.idempotency_key and idempotency_key and req.idempotency_key != idempotency_key:
            raise Invalid(  # either one could be the retry's key: storing it twice is worse
                f"idempotency_key {req.idempotency_key!r} in the body and Idempotency-Key "
                f"{idempotency_key!r} in the header differ; send one key",
                "idempotency_key",
            )
        key = req.idempotency_key or idempotency_key
        if not key:
            raise Invalid(
                "give an idempotency_key (body) or an Idempotency-Key header", "idempotency_key"
            )
        event = (key, req.user_id, req.item_id, req.kind, req.value, req.timestamp)
        # writes on a pool of their own: a scoring burst never holds them up
        stored = await admission.in_threads("feedback", 16, service.feedback, *event)
        return FeedbackResponse(id=stored.id, duplicate=stored.duplicate)

    @app.get("/users/{user_id}", response_model=UserResponse)
    def user(
        request: Request,
        user_id: str = FastAPIPath(..., min_length=1, max_length=128, pattern=NO_CONTROL),
    ) -> UserResponse:
        authorize(request)
        view = service.user(user_id)
        return UserResponse(
            user_id=view.user_id,
            n_interactions=view.n_interactions,
            history=[{"item_id": i, "title": t} for i, t in view.history],
            interests=[
                {"value": v, "share": s, "count": c}
                for (v, s), c in zip(view.interests, view.counts, strict=True)
            ],
            profile=view.profile,
        )

    @app.get("/users")
    def users(request: Request, limit: int = Query(50, ge=1, le=500)) -> dict[str, list[str]]:
        authorize(request)
        return {"users": service.store.random_users(limit)}

    @app.get("/items", response_model=ItemsResponse)
    def items(
        request: Request,
        q: str = Query("", max_length=200, pattern=r"^[^\x00]*$", description="Part of the title."),
        limit: int = Query(20, ge=1, le=service.limits.max_search),
    ) -> ItemsResponse:
        authorize(request)
        found = service.search(q, limit)
        return ItemsResponse(items=[{"item_id": i, "title": t} for i, t in found])

    add_living_routes(app, service, authorize)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    return app
