"""CRM connectors, one module each, behind :class:`CrmConnector`."""

from __future__ import annotations

import importlib

from centralino.delivery.crm.base import CrmConnector

_MODULES = {
    "salesforce": ("centralino.delivery.crm.salesforce", "SalesforceConnector"),
    "hubspot": ("centralino.delivery.crm.hubspot", "HubSpotConnector"),
    "pipedrive": ("centralino.delivery.crm.pipedrive", "PipedriveConnector"),
    "webhook": ("centralino.delivery.crm.webhook", "WebhookConnector"),
}


def connector_class(kind: str) -> type[CrmConnector]:
    module, name = _MODULES[kind]
    cls: type[CrmConnector] = getattr(importlib.import_module(module), name)
    return cls


__all__ = ["CrmConnector", "connector_class"]
