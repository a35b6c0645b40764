"""Unit tests: call states, business hours, ARI client errors and reconnects, media protocol.

The ARI tests run against a tiny local aiohttp server that answers like ARI does
(JSON ``{"message": ...}`` errors, an events websocket); the real Asterisk is
exercised by the integration tests in this folder.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from pbx.ari.client import AriClient, AriError, AriSettings
from pbx.ari.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    PlaybackFinished,
    StasisStart,
    parse_event,
)
from pbx.calls.hours import is_open
from pbx.calls.session import CallState, InvalidTransition, StateMachine, parse_ari_time
from pbx.media.websocket import CHUNK_BYTES, MediaConnection, MediaEvent

# -- call states ---------------------------------------------------------------------


def test_state_machine_valid_path_is_persisted_in_order() -> None:
    seen: list[tuple[str, str]] = []
    sm = StateMachine("c1", lambda old, new: seen.append((old.value, new.value)))
    for state in (
        CallState.GREETING,
        CallState.LISTENING,
        CallState.SPEAKING,
        CallState.LISTENING,
        CallState.TRANSFERRING,
        CallState.ENDED,
    ):
        assert sm.to(state)
    assert seen[0] == ("ringing", "greeting") and seen[-1] == ("transferring", "ended")
    assert sm.history[-1] is CallState.ENDED
    assert sm.to(CallState.ENDED) is False  # same state: no-op, not an error


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), CallState.SPEAKING),  # ringing -> speaking: must greet or listen first
        ((), CallState.TRANSFERRING),
        ((CallState.ENDED,), CallState.LISTENING),  # nothing after ended
        ((CallState.GREETING, CallState.LISTENING), CallState.GREETING),  # greet once
    ],
)
def test_state_machine_rejects_invalid_transitions(
    path: tuple[CallState, ...], bad: CallState
) -> None:
    calls: list[object] = []
    sm = StateMachine("c2", lambda old, new: calls.append(new))
    for state in path:
        sm.to(state)
    before = (sm.state, len(calls))
    with pytest.raises(InvalidTransition, match=bad.value):
        sm.to(bad)
    assert (sm.state, len(calls)) == before  # nothing changed


def test_parse_ari_time() -> None:
    t = parse_ari_time("2026-11-28T02:15:01.123+0000")
    assert t == datetime(2026, 11, 28, 2, 15, 1, 123000, tzinfo=UTC)
    assert parse_ari_time("") is None and parse_ari_time("yesterday") is None


# -- business hours --------------------------------------------------------------------

HOURS = {"mon": [["09:00", "13:00"], ["14:30", "19:00"]], "sat": [["09:30", "12:30"]]}


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-11-30T08:30:00", True),  # Monday 09:30 in Rome (UTC+1)
        ("2026-11-30T12:30:00", False),  # 13:30: lunch break
        ("2026-11-30T13:30:00", True),  # 14:30: opens again
        ("2026-11-30T18:00:00", False),  # 19:00: closed (end is exclusive)
        ("2026-11-29T10:00:00", False),  # Sunday: not listed, closed
        ("2026-07-04T07:45:00", True),  # Saturday 09:45 in summer time (UTC+2)
    ],
)
def test_business_hours_in_tenant_timezone(utc: str, expected: bool) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert is_open(HOURS, [], "Europe/Rome", now) is expected


def test_business_hours_holidays_and_bad_input() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 in Rome
    assert is_open(HOURS, [], "Europe/Rome", monday)
    assert not is_open(HOURS, ["2026-12-07"], "Europe/Rome", monday)
    # A malformed range is skipped, the valid one still counts; bad timezone -> Rome.
    broken = {"mon": [["nine", "ten"], ["09:00", "13:00"]]}
    assert is_open(broken, [], "Mars/Olympus", monday)
    assert not is_open({}, [], "Europe/Rome", monday)


# -- ARI client against a local ARI-like server ----------------------------------------


class FakeAri:
    """Answers a few ARI routes the way Asterisk does, records what it received."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        self.ws_connections = 0
        self.events_to_send: list[dict[str, object]] = []
        self.close_after_send = True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/ari/events", self.events)
        app.router.add_route("*", "/ari/{tail:.*}", self.rest)
        return app

    async def rest(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.requests.append((request.method, request.path, dict(request.query), auth))
        if auth != "Basic " + base64.b64encode(b"ctl:s3cret").decode():
            return web.json_response({"message": "Authentication required"}, status=401)
        tail = request.match_info["tail"]
        if tail == "channels/gone/answer":
            return web.json_response({"message": "Channel not found"}, status=404)
        if tail == "bridges/b1/addChannel":
            return web.json_response({"message": "Channel not in Stasis application"}, status=422)
        if tail == "channels/c1/variable":
            return web.json_response({"value": "abc@127.0.0.1"})
        if tail == "channels/boom":
            return web.Response(status=500, text="<html>Internal error</html>")
        if tail == "channels/externalMedia":
            return web.json_response(
                {"id": request.query["channelId"], "name": "WebSocket/INCOMING/0x1"}
            )
        return web.Response(status=204)

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connections += 1
        for event in self.events_to_send:
            await ws.send_str(json.dumps(event))
        await ws.send_str("not json")
        if self.close_after_send:
            await ws.close()
        else:
            async for _ in ws:
                pass
        return ws


@pytest.fixture
async def fake_ari() -> AsyncIterator[tuple[FakeAri, str]]:
    fake = FakeAri()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_ari_rest_errors_carry_status_and_message(fake_ari: tuple[FakeAri, str]) -> None:
    fake, url = fake_ari
    client = AriClient(AriSettings(url, "ctl", "s3cret", "centralino"))
    try:
        assert await client.get_variable("c1", "CHANNEL(pjsip,call-id)") == "abc@127.0.0.1"
        with pytest.raises(AriError) as err:
            await client.answer("gone")
        assert err.value.status == 404 and err.value.not_found
        assert err.value.message == "Channel not found"
        with pytest.raises(AriError) as err:
            await client.add_channels("b1", ["c1", "m1"])
        assert err.value.status == 422 and "not in Stasis" in str(err.value)
        with pytest.raises(AriError) as err:
            await client.get_channel("boom")
        assert err.value.status == 500 and "Internal error" in err.value.message
        media = await client.external_media(channel_id="media-1")
        assert media.id == "media-1" and media.is_media
        method, path, query, _ = fake.requests[-1]
        assert (method, path) == ("POST", "/ari/channels/externalMedia")
        assert query == {
            "app": "centralino",
            "channelId": "media-1",
            "transport": "websocket",
            "connection_type": "server",
            "encapsulation": "none",
            "format": "slin16",
        }
    finally:
        await client.close()
    bad = AriClient(AriSettings(url, "ctl", "wrong", "centralino"))
    try:
        with pytest.raises(AriError) as err:
            await bad.answer("c1")
        assert err.value.status == 401
    finally:
        await bad.close()


async def test_ari_unreachable_is_status_zero() -> None:
    client = AriClient(AriSettings("http://127.0.0.1:9", "u", "p", "app", request_timeout_s=2))
    try:
        with pytest.raises(AriError) as err:
            await client.asterisk_info()
        assert err.value.status == 0 and "not reachable" in err.value.message
    finally:
        await client.close()


def test_ari_settings_refuse_empty_credentials() -> None:
    with pytest.raises(ValueError, match="no default credentials"):
        AriSettings("http://127.0.0.1:8088", "centralino", "", "centralino")
    with pytest.raises(ValueError, match="application"):
        AriSettings("http://127.0.0.1:8088", "u", "p", "")


async def test_ari_events_are_typed_and_the_socket_reconnects(
    fake_ari: tuple[FakeAri, str],
) -> None:
    """The server closes the socket after each batch: the client reconnects with backoff,
    a failing handler does not drop the connection, junk messages are skipped."""
    fake, url = fake_ari
    fake.events_to_send = [
        {
            "type": "StasisStart",
            "application": "centralino",
            "timestamp": "2026-11-28T02:15:01.123+0000",
            "args": ["+390212345678", "+390212345678"],
            "channel": {
                "id": "c1",
                "name": "PJSIP/centralino-test-00000001",
                "state": "Ring",
                "caller": {"name": "Cliente", "number": "+393331234567"},
                "dialplan": {"context": "inbound", "exten": "+390212345678", "priority": 9},
            },
        },
        {
            "type": "ChannelDtmfReceived",
            "digit": "5",
            "duration_ms": 120,
            "channel": {"id": "c1"},
        },
        {
            "type": "ChannelDestroyed",
            "cause": 16,
            "cause_txt": "Normal Clearing",
            "channel": {"id": "c1"},
        },
        {"type": "PlaybackFinished", "playback": {"id": "p1", "state": "done"}},
        {"type": "SomethingNew", "x": 1},
    ]
    client = AriClient(AriSettings(url, "ctl", "s3cret", "centralino", max_backoff_s=0.2))
    got: list[AriEvent] = []
    connects = 0

    async def handler(event: AriEvent) -> None:
        got.append(event)
        if isinstance(event, ChannelDtmfReceived):
            raise RuntimeError("handler bug")  # must not kill the event loop

    async def on_connect() -> None:
        nonlocal connects
        connects += 1

    task = asyncio.create_task(client.run_events(handler, on_connect))
    try:
        for _ in range(100):
            if fake.ws_connections >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert fake.ws_connections >= 3 and connects >= 3
    first = got[:5]
    assert isinstance(first[0], StasisStart)
    assert first[0].args == ("+390212345678", "+390212345678")
    assert first[0].channel.caller.number == "+393331234567"
    assert first[0].channel.dialplan.priority == 9
    assert isinstance(first[1], ChannelDtmfReceived) and first[1].digit == "5"
    assert isinstance(first[2], ChannelDestroyed) and first[2].cause == 16
    assert isinstance(first[3], PlaybackFinished) and first[3].playback.id == "p1"
    assert type(first[4]) is AriEvent and first[4].raw["x"] == 1


def test_parse_event_keeps_unknown_channel_events() -> None:
    event = parse_event({"type": "ChannelVarset", "channel": {"id": "x"}, "variable": "A"})
    assert event.channel_id == "x" and event.raw["variable"] == "A"


# -- media protocol ----------------------------------------------------------------------


def test_media_event_parsing_plain_and_json() -> None:
    start = MediaEvent.parse(
        "MEDIA_START connection_id:abc channel:WebSocket/INCOMING/0x1 channel_id:m1"
        " format:slin16 optimal_frame_size:640 ptime:20"
    )
    assert start.name == "MEDIA_START" and start.fields["optimal_frame_size"] == "640"
    assert MediaEvent.parse("MEDIA_MARK_PROCESSED m7").arg == "m7"
    assert MediaEvent.parse("MEDIA_XOFF").name == "MEDIA_XOFF"
    js = MediaEvent.parse(
        '{"event":"MEDIA_MARK_PROCESSED","channel_id":"m1","correlation_id":"m3"}'
    )
    assert (js.name, js.arg) == ("MEDIA_MARK_PROCESSED", "m3")


class FakeMediaServer:
    """Plays chan_websocket's side: MEDIA_START, consumes audio in real time, marks."""

    def __init__(self, json_control: bool = False) -> None:
        self.json_control = json_control  # chan_websocket.conf control_message_format
        self.binary_sizes: list[int] = []
        self.texts: list[str] = []
        self.played_bytes = 0

    def event(self, name: str, **fields: object) -> str:
        if self.json_control:
            return json.dumps({"event": name, "channel_id": "m1", **fields})
        if name == "MEDIA_MARK_PROCESSED":
            return f"{name} {fields['correlation_id']}"
        return " ".join([name, *(f"{k}:{v}" for k, v in fields.items())])

    def command(self, text: str) -> tuple[str, str]:
        if self.json_control:
            data = json.loads(text)
            return str(data["command"]), str(data.get("correlation_id", ""))
        name, _, arg = text.partition(" ")
        return name, arg

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(
            self.event(
                "MEDIA_START",
                connection_id="c",
                channel="WebSocket/INCOMING/0x1",
                format="slin16",
                optimal_frame_size=640,
                ptime=20,
            )
        )
        await ws.send_bytes(b"\x01\x00" * 320)  # one caller frame
        queue: list[tuple[str, object]] = []

        async def player() -> None:
            while True:
                if queue:
                    kind, item = queue.pop(0)
                    if kind == "audio":
                        assert isinstance(item, int)
                        await asyncio.sleep(item / 32000)
                        self.played_bytes += item
                    else:
                        await ws.send_str(self.event("MEDIA_MARK_PROCESSED", correlation_id=item))
                else:
                    await asyncio.sleep(0.005)

        play = asyncio.create_task(player())
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self.binary_sizes.append(len(msg.data))
                queue.append(("audio", len(msg.data)))
            elif msg.type == WSMsgType.TEXT:
                name, arg = self.command(msg.data)
                self.texts.append(name)
                if name == "MARK_MEDIA":
                    queue.append(("mark", arg))
                elif name == "FLUSH_MEDIA":
                    queue.clear()
        play.cancel()
        return ws


@pytest.mark.parametrize("json_control", [False, True], ids=["plain-text", "json"])
async def test_media_connection_chunks_paces_and_marks(json_control: bool) -> None:
    server = FakeMediaServer(json_control)
    app = web.Application()
    app.router.add_get("/media/{cid}", server.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    import aiohttp

    async with aiohttp.ClientSession() as http:
        media = MediaConnection(f"ws://127.0.0.1:{port}/media/c", session=http, lead_s=0.2)
        try:
            await media.connect()
            await asyncio.wait_for(media.media_started.wait(), 5)
            frames = media.frames()
            assert await asyncio.wait_for(frames.__anext__(), 5) == b"\x01\x00" * 320
            assert media.caller_audio_s == pytest.approx(0.02)
            # 1.01 s of audio: not a whole number of frames -> padded, never dropped.
            pcm = b"\x10\x00" * 16160
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await media.play(pcm)
            assert media.speaking
            await media.wait_played()
            elapsed = loop.time() - t0
            assert elapsed == pytest.approx(1.02, abs=0.25)
            assert not media.speaking
            assert all(size <= CHUNK_BYTES and size % 640 == 0 for size in server.binary_sizes)
            assert sum(server.binary_sizes) == 32640  # 51 frames
            assert server.texts[-1] == "MARK_MEDIA"
            # Barge-in: flush drops what is queued and releases waiters at once.
            await media.play(b"\x10\x00" * 16000 * 5)
            await asyncio.sleep(0.3)
            waiter = asyncio.create_task(media.wait_played())
            await media.flush()
            await asyncio.wait_for(waiter, 1)
            assert "FLUSH_MEDIA" in server.texts
            assert not media.speaking
        finally:
            await media.close()
    await runner.cleanup()
    assert media.closed.is_set()


async def test_controller_drops_orphan_legs_instead_of_answering_them(
    fake_ari: tuple[FakeAri, str], sqlite_db: Any
) -> None:
    """A media or transfer leg whose call is gone must not be greeted as a new caller."""
    from centralino.calls.service import CallStore
    from centralino.tenants.service import TenantService
    from pbx.controller import Controller

    fake, url = fake_ari
    fake.close_after_send = False
    fake.events_to_send = [
        {"type": "StasisStart", "args": [],
         "channel": {"id": "media-old", "name": "WebSocket/INCOMING/0x1"}},
        {"type": "StasisStart", "args": ["transfer"],
         "channel": {"id": "xfer-old-1", "name": "Local/+390212345600@outbound-0001;1"}},
    ]  # fmt: skip

    def no_conversation(ctx: Any) -> Any:
        raise AssertionError("no call should start")

    controller = Controller(
        ari=AriClient(AriSettings(url, "ctl", "s3cret", "centralino")),
        store=CallStore(sqlite_db),
        tenants=TenantService(sqlite_db),
        conversation_factory=no_conversation,
        recordings_dir=Path("/nonexistent"),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        for _ in range(100):
            deleted = {p for m, p, _, _ in fake.requests if m == "DELETE"}
            if len(deleted) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert deleted == {"/ari/channels/media-old", "/ari/channels/xfer-old-1"}
    assert controller.stats.calls_started == 0
