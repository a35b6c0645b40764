"""Per-tenant API keys for the public REST API (shown once, stored hashed)."""
