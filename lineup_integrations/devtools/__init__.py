"""Developer tooling shared by tests, benchmarks and the demo (never used by production code paths)."""
