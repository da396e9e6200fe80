"""A provider that exists only in the tests: the proof that adding a provider is its folder (this
package) plus one line (`PROVIDERS.with_provider(FAKE)`, the line a new provider adds to
`lineup_integrations/registry.py`)."""
