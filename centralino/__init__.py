"""Centralino shared domain: configuration, storage, tenants, calls, leads.

Nothing in this package imports ``pbx``, ``agent`` or ``admin_web``.
"""

__version__ = "0.1.0"
