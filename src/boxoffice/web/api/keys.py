"""API keys over HTTP: list, create (the key shown once), revoke. An API key acts as its organizer with an owner's
rights, so any of the organizer's keys may manage the others (and itself)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from boxoffice.accounts import service as keys
from boxoffice.accounts.models import ApiKey
from boxoffice.web.api.deps import Box, Organizer
from boxoffice.web.api.described import about
from boxoffice.web.api.fields import Name
from boxoffice.web.api.routes import PROBLEMS
from boxoffice.web.api.schemas import Strict

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, tags=["organizer"])

_EXAMPLE: JsonDict = {
    "id": "key_4f0c2a9d1b7e8c3a5d6f",
    "name": "Website shop",
    "prefix": "bo_Xy3kP9q",
    "created_at": "2026-11-24T10:00:00Z",
    "last_used_at": "2026-11-30T18:42:00Z",
}


class ApiKeyCreate(Strict):
    name: Name = Field(
        default="",
        description="A label for the key, to tell keys apart in the list (at most 200 characters).",
        examples=["Website shop"],
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: str = about(
        "The key's id (for `DELETE /api/v1/api-keys/{id}`); not the key itself.", "key_4f0c2a9d1b7e8c3a5d6f"
    )
    name: str = about("The label given when the key was created (may be empty).", "Website shop")
    prefix: str = about("The key's first 10 characters, to recognize it; the rest is never shown again.", "bo_Xy3kP9q")
    created_at: datetime = about("When the key was created, in UTC.", "2026-11-24T10:00:00Z")
    last_used_at: datetime | None = about(
        "When a request last used the key (recorded to the minute), or null if never.", "2026-11-30T18:42:00Z"
    )


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_EXAMPLE, "key": "bo_Xy3kP9q…", "last_used_at": None}]}
    )

    key: str = about(
        "The key itself: send it as `Authorization: Bearer <key>`. Shown in this answer only; Boxoffice stores a "
        "hash of it and cannot show it again.",
        "bo_Xy3kP9qR7vT2mW8nL4cJ6hF1dS5aZ0eBgKuYiOpQx-w",
    )


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="List API keys")
async def list_keys(box: Box, organizer: Organizer) -> list[ApiKeyOut]:
    """The organizer's active keys, newest first (revoked keys are not listed)."""
    return [key_out(k) for k in await keys.list_api_keys(box.db, organizer.id)]


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, summary="Create an API key")
async def create_key(body: ApiKeyCreate, box: Box, organizer: Organizer) -> ApiKeyCreated:
    """A new key for the organizer; the answer carries the key itself, once."""
    key, raw = await keys.create_key_for(box.db, organizer.id, name=body.name)
    return ApiKeyCreated(**key_out(key).model_dump(), key=raw)


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_key(key_id: str, box: Box, organizer: Organizer) -> Response:
    """Revoke one of the organizer's keys: from this answer on, every process refuses it (401). Revoking a key
    already revoked changes nothing (204); another organizer's key, or none, is 404."""
    await keys.revoke_api_key(box.db, key_id[:64], organizer_id=organizer.id)
    box.live_checks.forget()  # its open streams end
    return Response(status_code=204)
