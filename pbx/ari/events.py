"""Typed ARI objects and events (only the ones the controller handles).

Unknown event types still parse into :class:`AriEvent` so nothing is dropped
silently; ``raw`` keeps the whole JSON for logging and debugging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallerId:
    name: str = ""
    number: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> CallerId:
        data = data or {}
        return cls(name=str(data.get("name", "")), number=str(data.get("number", "")))


@dataclass(frozen=True)
class DialplanCep:
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


@dataclass(frozen=True)
class Channel:
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = field(default_factory=CallerId)
    connected: CallerId = field(default_factory=CallerId)
    dialplan: DialplanCep = field(default_factory=DialplanCep)
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Channel:
        dp = data.get("dialplan") or {}
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            state=str(data.get("state", "")),
            caller=CallerId.parse(data.get("caller")),
            connected=CallerId.parse(data.get("connected")),
            dialplan=DialplanCep(
                context=str(dp.get("context", "")),
                exten=str(dp.get("exten", "")),
                priority=int(dp.get("priority", 0) or 0),
                app_name=str(dp.get("app_name", "")),
                app_data=str(dp.get("app_data", "")),
            ),
            creationtime=str(data.get("creationtime", "")),
            language=str(data.get("language", "")),
            channelvars={k: str(v) for k, v in (data.get("channelvars") or {}).items()},
        )

    @property
    def is_media(self) -> bool:
        """True for an externalMedia channel (ours, not a caller): chan_websocket or
        chan_audiosocket."""
        return self.name.startswith(("WebSocket/", "AudioSocket/"))


@dataclass(frozen=True)
class Bridge:
    id: str
    technology: str = ""
    bridge_type: str = ""
    channels: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Bridge:
        return cls(
            id=str(data.get("id", "")),
            technology=str(data.get("technology", "")),
            bridge_type=str(data.get("bridge_type", "")),
            channels=tuple(data.get("channels") or ()),
        )


@dataclass(frozen=True)
class Playback:
    id: str
    media_uri: str = ""
    target_uri: str = ""
    state: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Playback:
        return cls(
            id=str(data.get("id", "")),
            media_uri=str(data.get("media_uri", "")),
            target_uri=str(data.get("target_uri", "")),
            state=str(data.get("state", "")),
        )


@dataclass(frozen=True)
class AriEvent:
    type: str
    application: str = ""
    timestamp: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def channel_id(self) -> str | None:
        """The channel this event is about, if any (used to route it to a session)."""
        return None


@dataclass(frozen=True)
class ChannelEvent(AriEvent):
    channel: Channel = field(default_factory=lambda: Channel(id=""))

    @property
    def channel_id(self) -> str | None:
        return self.channel.id


@dataclass(frozen=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


@dataclass(frozen=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int | None = None
    soft: bool = False


@dataclass(frozen=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0


@dataclass(frozen=True)
class PlaybackEvent(AriEvent):
    playback: Playback = field(default_factory=lambda: Playback(id=""))


@dataclass(frozen=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(frozen=True)
class PlaybackFinished(PlaybackEvent):
    pass


def parse_event(data: dict[str, Any]) -> AriEvent:
    """Turn one JSON message from /ari/events into a typed event."""
    kind = str(data.get("type", ""))
    base: dict[str, Any] = {
        "type": kind,
        "application": str(data.get("application", "")),
        "timestamp": str(data.get("timestamp", "")),
        "raw": data,
    }
    chan = Channel.parse(data["channel"]) if isinstance(data.get("channel"), dict) else None
    if chan is not None:
        base["channel"] = chan
    if kind == "StasisStart" and chan is not None:
        replace = data.get("replace_channel")
        return StasisStart(
            **base,
            args=tuple(str(a) for a in data.get("args") or ()),
            replace_channel=Channel.parse(replace) if isinstance(replace, dict) else None,
        )
    if kind == "StasisEnd" and chan is not None:
        return StasisEnd(**base)
    if kind == "ChannelDestroyed" and chan is not None:
        return ChannelDestroyed(
            **base, cause=int(data.get("cause", 0) or 0), cause_txt=str(data.get("cause_txt", ""))
        )
    if kind == "ChannelHangupRequest" and chan is not None:
        cause = data.get("cause")
        return ChannelHangupRequest(
            **base, cause=int(cause) if cause is not None else None, soft=bool(data.get("soft"))
        )
    if kind == "ChannelStateChange" and chan is not None:
        return ChannelStateChange(**base)
    if kind == "ChannelDtmfReceived" and chan is not None:
        return ChannelDtmfReceived(
            **base,
            digit=str(data.get("digit", "")),
            duration_ms=int(data.get("duration_ms", 0) or 0),
        )
    if kind in ("PlaybackStarted", "PlaybackFinished") and isinstance(data.get("playback"), dict):
        cls = PlaybackStarted if kind == "PlaybackStarted" else PlaybackFinished
        base.pop("channel", None)
        return cls(**base, playback=Playback.parse(data["playback"]))
    if chan is not None:
        return ChannelEvent(**base)
    return AriEvent(**base)
