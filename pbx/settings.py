"""Settings of the ``[pbx]`` section and the connection details taken from ``[asterisk]``.

Ports and credentials of Asterisk are owned by ``centralino.asterisk.settings``
(they are rendered into Asterisk's own configuration); the controller reads the
same values so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from centralino.asterisk.settings import AsteriskSettings, load_settings
from centralino.config import Config
from pbx.ari.client import AriSettings

SECTION = "pbx"
CONVERSATIONS = ("greeting", "voice")
MEDIA_TRANSPORTS = ("auto", "websocket", "audiosocket")


@dataclass(frozen=True)
class PbxSettings:
    # Asterisk's HTTP server (ARI and /media) is bound to localhost.
    asterisk_host: str = "127.0.0.1"
    # FastAGI routing service: bind address (the dialplan connects to asterisk.agi_host).
    agi_bind: str = "127.0.0.1"
    # What talks to callers: "greeting" (say the tenant's greeting, record the caller)
    # or "voice" (the voice agent: Whisper STT + dialogue + TTS, agent/voice).
    conversation: str = "voice"
    # How long the greeting conversation listens after the greeting before saying goodbye.
    listen_s: float = 120.0
    # Seconds to wait for the media websocket to come up before failing the call.
    media_start_timeout_s: float = 5.0
    # Cap of the ARI reconnect backoff (seconds): keeps recovery after a restart fast.
    reconnect_max_s: float = 2.0
    # Dialplan context (extension s) a call is handed to when the controller fails it:
    # the recorded message + voicemail/forward of asterisk-conf/extensions.conf.j2.
    fallback_context: str = "fallback"
    # Transfers (CallControl.transfer) dial Local/<number>@transfer_context: the dialplan's
    # outbound context, the only one that reaches the trunk.
    transfer_context: str = "outbound"
    transfer_timeout_s: int = 30
    # Call media: "websocket" (chan_websocket, Asterisk >= 22.6), "audiosocket"
    # (chan_audiosocket, the fallback for Asterisk 18-22.5) or "auto" (by the version
    # ARI reports at each connect).
    media_transport: str = "auto"
    # Where the AudioSocket server listens (Asterisk connects to it); port 0 = any free
    # port (each call tells Asterisk the address in externalMedia's external_host).
    audiosocket_bind: str = "127.0.0.1"
    audiosocket_port: int = 0

    def __post_init__(self) -> None:
        if self.media_transport not in MEDIA_TRANSPORTS:
            raise ValueError(
                f"media_transport {self.media_transport!r}: "
                f"use one of {', '.join(MEDIA_TRANSPORTS)}"
            )
        if not 0 <= self.audiosocket_port <= 65535:
            raise ValueError("audiosocket_port must be between 0 and 65535")
        if self.conversation not in CONVERSATIONS:
            raise ValueError(
                f"conversation {self.conversation!r}: use one of {', '.join(CONVERSATIONS)}"
            )
        if self.listen_s <= 0:
            raise ValueError("listen_s must be positive")
        if self.media_start_timeout_s <= 0:
            raise ValueError("media_start_timeout_s must be positive")
        if not 5 <= self.transfer_timeout_s <= 300:
            raise ValueError("transfer_timeout_s must be between 5 and 300 seconds")
        if not 0.1 <= self.reconnect_max_s <= 60:
            raise ValueError("reconnect_max_s must be between 0.1 and 60 seconds")


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    user: str
    secret: str


def pbx_settings(config: Config) -> PbxSettings:
    return config.section(SECTION, PbxSettings)


def asterisk_settings(config: Config) -> AsteriskSettings:
    return load_settings(config)


def ari_settings(config: Config) -> AriSettings:
    ast = asterisk_settings(config)
    pbx = pbx_settings(config)
    return AriSettings(
        url=f"http://{pbx.asterisk_host}:{ast.http_port}",
        user=ast.ari_user,
        password=ast.ari_password,
        app=ast.app_name,
        max_backoff_s=pbx.reconnect_max_s,
    )


def ami_settings(config: Config) -> AmiSettings:
    ast = asterisk_settings(config)
    pbx = pbx_settings(config)
    return AmiSettings(
        host=pbx.asterisk_host, port=ast.ami_port, user=ast.ami_user, secret=ast.ami_secret
    )
