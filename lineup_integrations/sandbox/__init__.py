"""The provider sandbox: offline twins of Zoho, Google and Microsoft that speak their real wire protocols.

`kit` holds the provider-agnostic in-memory state, `control` the `/_sandbox/` control API,
`app` the assembly every provider's `sandbox.py` uses, and `server` runs them on their ports.
"""

from lineup_integrations.sandbox.kit import (
    Fault,
    SandboxAccount,
    SandboxConfig,
    SandboxProfile,
    SandboxState,
)
from lineup_integrations.sandbox.server import SandboxHandle, running_sandbox, serve_forever

__all__ = [
    "Fault",
    "SandboxAccount",
    "SandboxConfig",
    "SandboxHandle",
    "SandboxProfile",
    "SandboxState",
    "running_sandbox",
    "serve_forever",
]
