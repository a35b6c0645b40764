"""FastAGI routing service (DID -> tenant, business hours)."""

from pbx.agi.server import RouteDecision, RoutingAgi, start_agi_server

__all__ = ["RouteDecision", "RoutingAgi", "start_agi_server"]
