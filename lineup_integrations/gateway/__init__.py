"""The HTTP gateway (FastAPI): the spec's REST API under `/api/v1/integrations`; see `app.create_app`."""
