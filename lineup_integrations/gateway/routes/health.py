"""`GET /healthz`: the process is up and serving (for load balancers and `make demo`'s wait)."""

from __future__ import annotations

from fastapi import APIRouter

from lineup_integrations.gateway.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health()
