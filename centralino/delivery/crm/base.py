"""The common CRM connector interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from centralino.delivery.errors import MissingSecret, SendResult
from centralino.delivery.settings import CrmTarget, DeliverySettingsError


class CrmConnector(ABC):
    """Pushes one lead to one CRM.

    ``push`` must be safe to repeat with the same idempotency key where the CRM
    allows it (upsert by external id, search-then-update); ``idempotent`` says
    whether it is, so duplicates after a crash are expected only where it is False.
    """

    type: ClassVar[str]
    label: ClassVar[str]
    idempotent: ClassVar[bool]
    # CRM field -> our lead field (settings.LEAD_FIELDS) or "=literal".
    default_mapping: ClassVar[dict[str, str]]
    # Option keys the tenant may set (besides secrets given as NAME or NAME_env).
    options_known: ClassVar[tuple[str, ...]] = ()
    secrets: ClassVar[tuple[str, ...]] = ()
    # Default environment variable per secret, e.g. {"token": "HUBSPOT_TOKEN"}.
    secret_env_default: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        target: CrmTarget,
        http: aiohttp.ClientSession,
        environ: Mapping[str, str],
        timeout_s: float = 20.0,
        cache: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.options = target.options
        self.mapping = target.mapping or dict(self.default_mapping)
        self.http = http
        self.environ = environ
        self.timeout_s = timeout_s
        # Shared across pushes of one dispatcher (OAuth tokens); keyed by the connector.
        self.cache = cache if cache is not None else {}

    @classmethod
    def validate_options(cls, options: Mapping[str, Any], where: str) -> None:
        allowed = set(cls.options_known) | set(cls.secrets) | {f"{s}_env" for s in cls.secrets}
        for key in options:
            if key not in allowed:
                raise DeliverySettingsError(
                    f"opzione sconosciuta per {cls.label} (ammesse: {', '.join(sorted(allowed))})",
                    f"{where}.{key}",
                )
        for key in cls.options_known:
            if key.endswith("url") and key in options:
                val = options[key]
                if not isinstance(val, str) or not val.startswith(("http://", "https://")):
                    raise DeliverySettingsError(
                        "deve essere un indirizzo http(s)://", f"{where}.{key}"
                    )

    def secret(self, name: str, required: bool = True) -> str:
        """A secret: tenant settings, then its ``NAME_env`` variable, then the default variable."""
        value = self.options.get(name)
        if isinstance(value, str) and value:
            return value
        env_var = self.options.get(f"{name}_env") or self.secret_env_default.get(name, "")
        if env_var and self.environ.get(str(env_var)):
            return str(self.environ[str(env_var)])
        if not required:
            return ""
        where = f"delivery.crm[{self.type}].{name}"
        hint = f" o nella variabile d'ambiente {env_var}" if env_var else ""
        raise MissingSecret(f"{self.label}: manca il segreto {name!r}: impostarlo in {where}{hint}")

    def option(self, name: str, default: str) -> str:
        value = self.options.get(name)
        return str(value) if value else default

    @abstractmethod
    async def push(self, fields: dict[str, Any], idempotency_key: str) -> SendResult:
        """Create or update the lead in the CRM; raise SendError on failure."""
