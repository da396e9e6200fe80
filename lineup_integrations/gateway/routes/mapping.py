"""`/api/v1/integrations/mapping`: a tenant's field mapping per provider — change, read, roll back.

- `POST /mapping` (the spec's `{provider, mappings, direction}`): validates the rules, merges
  them into the active version, saves the result as a new version and returns it. An invalid
  request is a 422 whose `details` name every field at fault; nothing is saved.
- `GET /mapping?provider=`: the active version and the whole history (version 0 = the default).
- `POST /mapping/activate` `{provider, version}`: make an existing version active (rollback).

Validation needs the provider's field metadata for the tenant, which only the provider can fetch
(with the tenant's token). It reaches this router through one explicit seam: a
`ProviderFieldsSource` installed with `use_provider_fields(app, source)`: `create_app` installs
the providers' own (`gateway/provider_fields.py`, cached per tenant), tests may install a fixed list.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import ConfigDict, Field

from lineup_integrations.core.mapping import (
    Direction,
    FieldRule,
    MappingValidationError,
    ProviderFieldsSource,
    UnknownMappingVersionError,
    VersionedMapping,
    activate_mapping,
    active_mapping,
    default_entities,
    mapping_history,
    propose_mapping,
)
from lineup_integrations.core.provider import Providers
from lineup_integrations.gateway.auth import CurrentPrincipal
from lineup_integrations.gateway.dependencies import ProvidersDep, StoreDep
from lineup_integrations.gateway.errors import ApiError, ErrorResponse, FieldProblem
from lineup_integrations.gateway.schemas import CamelModel

router = APIRouter(
    prefix="/api/v1/integrations/mapping",
    tags=["mapping"],
    responses={status: {"model": ErrorResponse} for status in (400, 401, 404, 409, 422)},
)

ProviderName = Annotated[str, Field(min_length=1, max_length=40, examples=["zoho"])]
EntityName = Annotated[
    str | None, Field(min_length=1, max_length=40, description="defaults to the provider's only mappable entity")
]


class MappingChangeRequest(CamelModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    entity: EntityName = None
    mappings: list[FieldRule] = Field(min_length=1, max_length=200)
    direction: Direction = Field(
        default=Direction.BIDIRECTIONAL, description="for every rule in `mappings` that does not name its own"
    )


class ActivateRequest(CamelModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    entity: EntityName = None
    version: int = Field(ge=0, description="0 is the shipped default")


class MappingVersionBody(CamelModel):
    provider: str
    entity: str
    version: int
    mappings: list[FieldRule]
    based_on_version: int | None
    default_version: int | None
    created_by: str | None
    created_at: dt.datetime | None

    @classmethod
    def of(cls, versioned: VersionedMapping) -> MappingVersionBody:
        return cls(
            provider=versioned.provider,
            entity=versioned.entity,
            version=versioned.version,
            mappings=list(versioned.mapping.rules),
            based_on_version=versioned.based_on_version,
            default_version=versioned.default_version,
            created_by=versioned.created_by,
            created_at=versioned.created_at,
        )


class MappingStateResponse(CamelModel):
    active_version: int
    active: MappingVersionBody
    history: list[MappingVersionBody]


def use_provider_fields(app: FastAPI, source: ProviderFieldsSource) -> None:
    """Install where provider field metadata comes from (the seam described in the module docstring)."""
    app.state.provider_fields = source


def _provider_fields(request: Request) -> ProviderFieldsSource:
    return request.app.state.provider_fields


ProviderFieldsDep = Annotated[ProviderFieldsSource, Depends(_provider_fields)]


def _entity(providers: Providers, provider: str, entity: str | None) -> str:
    """The entity a request is about: the one it names, or the provider's only mappable one."""
    providers[provider]  # an unknown provider is the gateway's 400
    entities = default_entities(provider)
    if entity is None and len(entities) == 1:
        return entities[0]
    if entity is None and entities:
        raise ApiError(
            422, "validation_error", f"entity: required; {provider} maps {', '.join(entities)}", field="entity"
        )
    if entity not in entities:
        raise ApiError(
            404,
            "mapping_not_found",
            f"{provider} has no mappable entity" + (" by that name" if entity else ""),
            field="entity" if entity else "provider",
        )
    return entity


@router.post("", response_model=MappingVersionBody)
def change_mapping(
    body: MappingChangeRequest,
    principal: CurrentPrincipal,
    store: StoreDep,
    providers: ProvidersDep,
    provider_fields: ProviderFieldsDep,
) -> MappingVersionBody:
    """Merge the rules into the tenant's active mapping and save the result as its new version
    (a request that changes nothing returns the active version unchanged)."""
    entity = _entity(providers, body.provider, body.entity)
    fields = provider_fields(principal.tenant_id, body.provider, entity)
    try:
        versioned = propose_mapping(
            store,
            principal.tenant_id,
            body.provider,
            entity,
            body.mappings,
            direction=body.direction,
            actor=principal.subject,
            provider_fields=fields,
        )
    except MappingValidationError as error:
        problems = [FieldProblem(field=p.field, message=p.message) for p in error.problems]
        first = problems[0]
        raise ApiError(
            422, "invalid_mapping", f"{first.field}: {first.message}", field=first.field, details=problems
        ) from None
    return MappingVersionBody.of(versioned)


@router.get("", response_model=MappingStateResponse)
def read_mapping(
    principal: CurrentPrincipal,
    store: StoreDep,
    providers: ProvidersDep,
    provider: Annotated[str, Query(min_length=1, max_length=40)],
    entity: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> MappingStateResponse:
    """The active version and every version, oldest first (version 0 is the default file)."""
    chosen = _entity(providers, provider, entity)
    active = active_mapping(store, principal.tenant_id, provider, chosen)
    history = mapping_history(store, principal.tenant_id, provider, chosen)
    return MappingStateResponse(
        active_version=active.version,
        active=MappingVersionBody.of(active),
        history=[MappingVersionBody.of(item) for item in history],
    )


@router.post("/activate", response_model=MappingVersionBody)
def activate(
    body: ActivateRequest, principal: CurrentPrincipal, store: StoreDep, providers: ProvidersDep
) -> MappingVersionBody:
    """Roll back (or forward) to an existing version; no rule is created."""
    entity = _entity(providers, body.provider, body.entity)
    try:
        versioned = activate_mapping(
            store, principal.tenant_id, body.provider, entity, body.version, actor=principal.subject
        )
    except UnknownMappingVersionError:
        raise ApiError(
            404,
            "mapping_version_not_found",
            f"the {body.provider} {entity} mapping has no such version",
            field="version",
        ) from None
    return MappingVersionBody.of(versioned)
