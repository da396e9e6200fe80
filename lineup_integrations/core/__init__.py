"""The framework-free core: settings, store, vault, OAuth, HTTP and mapping. Nothing here imports Dagster."""
