"""Dagster pieces shared by every provider: the tenants partition set, store/vault resources, retries."""
