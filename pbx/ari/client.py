"""A small typed ARI client on aiohttp.

Only the REST calls the controller uses are wrapped. Errors come back as
:class:`AriError` carrying the HTTP status and Asterisk's message, so callers can
tell "channel already gone" (404) from "not in Stasis" (422) from a real fault.

The events websocket (:meth:`AriClient.run_events`) reconnects forever with a
short exponential backoff capped at ``max_backoff_s``: after an Asterisk
restart the controller is back on the bus within a couple of seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from pbx.ari.events import AriEvent, Bridge, Channel, Playback, parse_event

log = logging.getLogger(__name__)


class AriError(RuntimeError):
    """An ARI request failed. ``status`` is the HTTP status (0: not reachable)."""

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {message}")
        self.status = status
        self.message = message
        self.method = method
        self.path = path

    @property
    def not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class AriSettings:
    """Where and how to reach ARI. ``url`` is the HTTP base, e.g. http://127.0.0.1:8088."""

    url: str
    user: str
    password: str
    app: str
    request_timeout_s: float = 10.0
    max_backoff_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.url:
            raise ValueError("ARI url is empty")
        if not self.user or not self.password:
            raise ValueError("ARI user and password must be set (no default credentials)")
        if not self.app:
            raise ValueError("ARI application name is empty")

    @property
    def ws_base(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, "", "", ""))


EventHandler = Callable[[AriEvent], Awaitable[None]]


class AriClient:
    def __init__(self, settings: AriSettings, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self._session = session
        self._own_session = session is None
        self.connected = asyncio.Event()
        self.connect_count = 0
        self._stopping = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    # -- plumbing -------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            token = base64.b64encode(
                f"{self.settings.user}:{self.settings.password}".encode()
            ).decode("ascii")
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Basic {token}"},
                timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout_s),
            )
            self._own_session = True
        return self._session

    async def close(self) -> None:
        self._stopping = True
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        """One REST call; returns the decoded JSON (or None for 204)."""
        url = f"{self.settings.url.rstrip('/')}/ari/{path.lstrip('/')}"
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            async with self.session.request(method, url, params=clean, json=body) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise AriError(resp.status, _error_message(text), method, path)
                if not text:
                    return None
                try:
                    return json.loads(text)
                except ValueError:
                    return text
        except AriError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise AriError(0, f"ARI not reachable: {exc!r}", method, path) from exc

    # -- asterisk ---------------------------------------------------------------

    async def asterisk_info(self) -> dict[str, Any]:
        return dict(await self.request("GET", "asterisk/info"))

    # -- channels ---------------------------------------------------------------

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.parse(await self.request("GET", f"channels/{channel_id}"))

    async def list_channels(self) -> list[Channel]:
        return [Channel.parse(c) for c in await self.request("GET", "channels") or []]

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"channels/{channel_id}", {"reason": reason})

    async def get_variable(self, channel_id: str, name: str) -> str:
        data = await self.request("GET", f"channels/{channel_id}/variable", {"variable": name})
        return str((data or {}).get("value", ""))

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request(
            "POST", f"channels/{channel_id}/variable", {"variable": name, "value": value}
        )

    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str = "s", priority: int = 1
    ) -> None:
        """Hand the channel back to the dialplan (it leaves our Stasis app)."""
        await self.request(
            "POST",
            f"channels/{channel_id}/continue",
            {"context": context, "extension": extension, "priority": priority},
        )

    async def play(
        self, channel_id: str, media: str, lang: str = "", playback_id: str | None = None
    ) -> Playback:
        params = {"media": media, "lang": lang or None, "playbackId": playback_id}
        return Playback.parse(await self.request("POST", f"channels/{channel_id}/play", params))

    async def external_media(
        self,
        *,
        channel_id: str,
        transport: str = "websocket",
        connection_type: str | None = "server",
        encapsulation: str = "none",
        fmt: str = "slin16",
        external_host: str | None = None,
        data: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Channel:
        """Create an externalMedia channel (chan_websocket by default) with OUR channel id."""
        params = {
            "app": self.settings.app,
            "channelId": channel_id,
            "transport": transport,
            "connection_type": connection_type,
            "encapsulation": encapsulation,
            "format": fmt,
            "external_host": external_host,
            # AudioSocket: the UUID chan_audiosocket sends first on its connection.
            "data": data,
        }
        body = {"variables": variables} if variables else None
        return Channel.parse(await self.request("POST", "channels/externalMedia", params, body))

    async def originate(
        self,
        endpoint: str,
        *,
        extension: str = "",
        context: str = "",
        caller_id: str = "",
        app: str = "",
        app_args: str = "",
        timeout_s: int = 30,
        channel_id: str | None = None,
    ) -> Channel:
        params = {
            "endpoint": endpoint,
            "extension": extension or None,
            "context": context or None,
            "callerId": caller_id or None,
            "app": app or None,
            "appArgs": app_args or None,
            "timeout": timeout_s,
            "channelId": channel_id,
        }
        return Channel.parse(await self.request("POST", "channels", params))

    async def subscribe(self, event_source: str) -> None:
        """Subscribe our app to e.g. ``channel:<id>`` (events keep coming after StasisEnd)."""
        await self.request(
            "POST",
            f"applications/{self.settings.app}/subscription",
            {"eventSource": event_source},
        )

    # -- bridges ----------------------------------------------------------------

    async def create_bridge(self, bridge_id: str, kind: str = "mixing", name: str = "") -> Bridge:
        params = {"type": kind, "bridgeId": bridge_id, "name": name or None}
        return Bridge.parse(await self.request("POST", "bridges", params))

    async def add_channels(self, bridge_id: str, channel_ids: list[str]) -> None:
        await self.request(
            "POST", f"bridges/{bridge_id}/addChannel", {"channel": ",".join(channel_ids)}
        )

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"bridges/{bridge_id}")

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.parse(b) for b in await self.request("GET", "bridges") or []]

    # -- events -----------------------------------------------------------------

    async def run_events(
        self,
        handler: EventHandler,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Consume ``/ari/events`` for our app until :meth:`close`; reconnect with backoff.

        ``handler`` is awaited for each event in order; it should hand long work off
        to tasks. A handler exception is logged and does not drop the connection.
        """
        backoff = 0.1
        last_report = -1e9
        params = {"app": self.settings.app, "subscribeAll": "false"}
        url = f"{self.settings.ws_base}/ari/events"
        while not self._stopping:
            try:
                async with self.session.ws_connect(
                    url, params=params, heartbeat=5.0, timeout=aiohttp.ClientWSTimeout(ws_close=2)
                ) as ws:
                    self._ws = ws
                    self.connect_count += 1
                    backoff = 0.1
                    last_report = -1e9
                    self.connected.set()
                    log.info(
                        "ARI events connected (app=%s, connection #%d)",
                        self.settings.app,
                        self.connect_count,
                    )
                    if on_connect is not None:
                        await on_connect()
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            try:
                                event = parse_event(json.loads(msg.data))
                            except (ValueError, TypeError, KeyError) as exc:
                                log.warning("unparseable ARI event %r: %s", msg.data[:200], exc)
                                continue
                            try:
                                await handler(event)
                            except Exception:
                                log.exception("ARI event handler failed on %s", event.type)
                        elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                            break
            except asyncio.CancelledError:
                raise
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                # Say it at once, then every 30 s: Asterisk may be down for a while.
                now = time.monotonic()
                if now - last_report >= 30.0:
                    last_report = now
                    log.warning("ARI events not reachable at %s (%s); retrying", url, exc)
                else:
                    log.debug("ARI events not reachable (%s); retrying in %.1fs", exc, backoff)
            finally:
                was_connected = self.connected.is_set()
                self.connected.clear()
                self._ws = None
            if was_connected and not self._stopping:
                log.warning("ARI events connection lost; reconnecting")
                if on_disconnect is not None:
                    await on_disconnect()
            if self._stopping:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.max_backoff_s)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no message"
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return text.strip()[:300]
