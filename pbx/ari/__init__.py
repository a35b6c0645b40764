"""Typed asyncio client for the Asterisk REST Interface."""

from pbx.ari.client import AriClient, AriError, AriSettings
from pbx.ari.events import (
    AriEvent,
    Bridge,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
    parse_event,
)

__all__ = [
    "AriClient",
    "AriError",
    "AriEvent",
    "AriSettings",
    "Bridge",
    "Channel",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "ChannelHangupRequest",
    "PlaybackFinished",
    "StasisEnd",
    "StasisStart",
    "parse_event",
]
