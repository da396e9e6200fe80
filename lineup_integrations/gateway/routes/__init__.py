"""The gateway's routers; `lineup_integrations.gateway.app.ROUTERS` lists the ones served."""
