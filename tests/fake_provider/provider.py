"""The fake provider as the rest of the system sees it (the provider contract, `core/provider.py`)."""

from lineup_integrations.core.provider import ObjectRef, Provider
from tests.fake_provider.oauth import oauth_config

FAKE = Provider(
    name="fake_crm",
    title="Fake CRM",
    env_prefix="FAKECRM",
    oauth_config=oauth_config,
    sandbox=ObjectRef("tests.fake_provider.sandbox"),
    sandbox_port=8899,
    definitions=ObjectRef("tests.fake_provider.definitions:defs"),
)
