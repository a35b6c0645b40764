"""The SIP user agent client: one real SIP/UDP + RTP call per :class:`SimulatedCall`.

Transactions follow RFC 3261 section 17.1 for UDP: an INVITE is retransmitted
at T1, 2*T1, 4*T1... until a provisional or final response (Timer A/B), other
requests at T1 doubling up to T2 (Timer E/F). Non-2xx finals are acknowledged
inside the INVITE transaction, a 2xx by a new ACK (and again for every
retransmitted 200 OK). A 401/407 challenge is answered once per nonce.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from centralino.simcaller.audio import RATE, dbfs, rms, write_wav
from centralino.simcaller.report import CallReport, HeardReport, HeardSegment, UtteranceReport
from centralino.simcaller.rtp import ReceivedFrame, RtpSession
from centralino.simcaller.script import Script
from centralino.simcaller.sip import (
    SipMessage,
    SipParseError,
    digest_authorization,
    new_branch,
    new_tag,
    parse_challenge,
    parse_message,
    parse_sdp,
    response_to,
    sdp_offer,
    tag_of,
    uri_of,
)
from centralino.simcaller.speech import SpeechTracker, merge_segments

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
USER_AGENT = "centralino-simcaller/0.1"
# Lets the platform mark the stored call as simulated (Call.simulated).
SIMULATED_HEADER = "X-Centralino-Simulated"
# Agent turns are split where the far end was silent this long.
TURN_GAP_S = 0.6


class SipTimeout(Exception):
    pass


class ServerUnreachable(Exception):
    pass


@dataclass
class Credentials:
    username: str
    password: str


@dataclass
class _ClientTx:
    request: SipMessage
    data: bytes
    invite: bool
    queue: asyncio.Queue[SipMessage | None] = field(default_factory=asyncio.Queue)
    provisional: bool = False
    final: SipMessage | None = None
    ack: bytes | None = None  # for a non-2xx final (resent on its retransmission)
    task: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.request.branch, self.request.cseq[1]


class _SipProtocol(asyncio.DatagramProtocol):
    def __init__(self, call: SimulatedCall) -> None:
        self.call = call

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # CRLF keep-alive
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            log.debug("ignoring unparsable SIP datagram from %s: %s", addr, exc)
            return
        self.call.on_message(msg)

    def error_received(self, exc: Exception) -> None:
        # Connected UDP socket: ICMP port unreachable surfaces here.
        self.call.on_transport_error(exc)


class SimulatedCall:
    """Place one call, run a script, hang up and measure. Use :meth:`run` once."""

    def __init__(
        self,
        to: str,
        caller_id: str,
        server: str = "127.0.0.1",
        port: int = 5060,
        script: Script | None = None,
        answer_timeout_s: float = 30.0,
        credentials: Credentials | None = None,
        record_path: Path | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.to = to
        self.caller_id = caller_id
        self.server = server
        self.port = port
        self.script = script or Script()
        self.answer_timeout_s = answer_timeout_s
        self.credentials = credentials
        self.record_path = record_path
        self.extra_headers = dict(extra_headers or {})
        self.clock = time.monotonic
        self.local_ip = ""
        self.local_port = 0
        self.call_id = ""
        self.from_tag = new_tag()
        self.cseq = secrets.randbelow(10000) + 1
        self.transport: asyncio.DatagramTransport | None = None
        self._txs: dict[tuple[str, str], _ClientTx] = {}
        self._ack_2xx: bytes | None = None
        self._invite_cseq = 0
        self._remote_tag = ""
        self._remote_target = ""
        self._route_set: list[str] = []
        self._remote_bye = asyncio.Event()
        self._transport_error: Exception | None = None
        self._sdp = b""
        self.tracker = SpeechTracker(self.clock, self.script.vad_threshold_dbfs)
        self.rtp = RtpSession(self.clock, on_frame=self._on_frame)
        self._answered_at = 0.0

    # -- transport --------------------------------------------------------------

    def _on_frame(self, frame: ReceivedFrame) -> None:
        self.tracker.feed(frame)

    def on_transport_error(self, exc: Exception) -> None:
        self._transport_error = exc
        for tx in self._txs.values():
            if tx.final is None:
                tx.queue.put_nowait(None)

    def _send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.sendto(data)

    def on_message(self, msg: SipMessage) -> None:
        if msg.is_request:
            self._on_request(msg)
            return
        try:
            _, method = msg.cseq
        except SipParseError:
            return
        tx = self._txs.get((msg.branch, method))
        if tx is None:
            if method == "INVITE" and 200 <= msg.status < 300 and self._ack_2xx:
                self._send(self._ack_2xx)  # late retransmitted 200 OK
            return
        if msg.status < 200:
            tx.provisional = True
            if tx.final is None:
                tx.queue.put_nowait(msg)
            return
        if tx.final is None:
            tx.final = msg
            if tx.invite and msg.status >= 300:
                tx.ack = self._non2xx_ack(tx.request, msg).to_bytes()
                self._send(tx.ack)
            tx.queue.put_nowait(msg)
        elif tx.invite:  # retransmitted final response
            if msg.status >= 300 and tx.ack:
                self._send(tx.ack)
            elif msg.status < 300 and self._ack_2xx:
                self._send(self._ack_2xx)

    def _on_request(self, msg: SipMessage) -> None:
        if msg.call_id != self.call_id:
            self._send(response_to(msg, 481, "Call/Transaction Does Not Exist").to_bytes())
            return
        if msg.method == "ACK":
            return
        if msg.method == "BYE":
            self._send(response_to(msg, 200, "OK").to_bytes())
            self._remote_bye.set()
            return
        if msg.method == "INVITE":  # re-INVITE (media move, refresh): follow it, keep our SDP
            if msg.body:
                try:
                    offer = parse_sdp(msg.body)
                except SipParseError:
                    offer = None
                if offer is not None and offer.port > 0 and offer.ip != "0.0.0.0":
                    self.rtp.remote = (offer.ip, offer.port)
            resp = response_to(msg, 200, "OK")
            resp.add_header("Contact", self._contact())
            resp.add_header("Content-Type", "application/sdp")
            resp.body = self._sdp
            self._send(resp.to_bytes())
            return
        if msg.method in ("OPTIONS", "INFO", "NOTIFY", "UPDATE"):
            self._send(response_to(msg, 200, "OK").to_bytes())
            return
        self._send(response_to(msg, 405, "Method Not Allowed").to_bytes())

    # -- transactions -------------------------------------------------------------

    def _start_tx(self, request: SipMessage) -> _ClientTx:
        invite = request.method == "INVITE"
        tx = _ClientTx(request, request.to_bytes(), invite)
        self._txs[tx.key] = tx
        tx.task = asyncio.get_running_loop().create_task(self._retransmit(tx))
        return tx

    async def _retransmit(self, tx: _ClientTx) -> None:
        start = self.clock()
        interval = T1
        self._send(tx.data)
        while tx.final is None:
            await asyncio.sleep(interval)
            if tx.final is not None:
                return
            if tx.invite and tx.provisional:
                return  # Timer A stops; the answer timeout (CANCEL) takes over
            if self.clock() - start >= 64 * T1:
                tx.queue.put_nowait(None)  # Timer B / F
                return
            interval = (
                interval * 2 if tx.invite else (T2 if tx.provisional else min(interval * 2, T2))
            )
            self._send(tx.data)

    def _end_tx(self, tx: _ClientTx) -> None:
        if tx.task is not None:
            tx.task.cancel()

    async def _next_response(self, tx: _ClientTx, timeout: float | None) -> SipMessage:
        try:
            msg = await asyncio.wait_for(tx.queue.get(), timeout)
        except TimeoutError:
            raise SipTimeout() from None
        if msg is None:
            if self._transport_error is not None:
                raise ServerUnreachable(str(self._transport_error))
            raise SipTimeout()
        return msg

    # -- message building ---------------------------------------------------------

    def _contact(self) -> str:
        return f"<sip:{self.caller_id}@{self.local_ip}:{self.local_port};transport=udp>"

    def _request_uri(self) -> str:
        return f"sip:{self.to}@{self.server}:{self.port}"

    def _from(self) -> str:
        return f'"{self.caller_id}" <sip:{self.caller_id}@{self.server}>;tag={self.from_tag}'

    def _to(self) -> str:
        to = f"<sip:{self.to}@{self.server}:{self.port}>"
        return f"{to};tag={self._remote_tag}" if self._remote_tag else to

    def _via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.local_ip}:{self.local_port};branch={branch};rport"

    def _request(self, method: str, uri: str, cseq: int, branch: str | None = None) -> SipMessage:
        msg = SipMessage(method=method, uri=uri)
        msg.add_header("Via", self._via(branch or new_branch()))
        msg.add_header("Max-Forwards", "70")
        msg.add_header("From", self._from())
        msg.add_header("To", self._to())
        msg.add_header("Call-ID", self.call_id)
        msg.add_header("CSeq", f"{cseq} {method}")
        for route in self._route_set:
            msg.add_header("Route", route)
        msg.add_header("User-Agent", USER_AGENT)
        return msg

    def _invite(self, auth: tuple[str, str] | None) -> SipMessage:
        self.cseq += 1
        self._invite_cseq = self.cseq
        msg = self._request("INVITE", self._request_uri(), self.cseq)
        msg.add_header("Contact", self._contact())
        msg.add_header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, UPDATE")
        msg.add_header(SIMULATED_HEADER, "1")
        for name, value in self.extra_headers.items():
            msg.add_header(name, value)
        if auth:
            msg.add_header(auth[0], auth[1])
        msg.add_header("Content-Type", "application/sdp")
        msg.body = self._sdp
        return msg

    def _non2xx_ack(self, invite: SipMessage, resp: SipMessage) -> SipMessage:
        ack = SipMessage(method="ACK", uri=invite.uri)
        ack.add_header("Via", invite.header("via"))
        ack.add_header("Max-Forwards", "70")
        ack.add_header("From", invite.header("from"))
        ack.add_header("To", resp.header("to"))
        ack.add_header("Call-ID", self.call_id)
        ack.add_header("CSeq", f"{invite.cseq[0]} ACK")
        for route in invite.header_all("route"):
            ack.add_header("Route", route)
        return ack

    def _cancel(self, invite: SipMessage) -> SipMessage:
        cancel = SipMessage(method="CANCEL", uri=invite.uri)
        cancel.add_header("Via", invite.header("via"))
        cancel.add_header("Max-Forwards", "70")
        cancel.add_header("From", invite.header("from"))
        cancel.add_header("To", invite.header("to"))
        cancel.add_header("Call-ID", self.call_id)
        cancel.add_header("CSeq", f"{invite.cseq[0]} CANCEL")
        cancel.add_header("User-Agent", USER_AGENT)
        return cancel

    def _establish_dialog(self, ok: SipMessage) -> None:
        self._remote_tag = tag_of(ok.header("to"))
        contact = ok.header("contact")
        self._remote_target = uri_of(contact) if contact else self._request_uri()
        self._route_set = list(reversed(ok.header_all("record-route")))
        ack = self._request("ACK", self._remote_target, self._invite_cseq)
        self._ack_2xx = ack.to_bytes()
        self._send(self._ack_2xx)

    # -- call phases --------------------------------------------------------------

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.server, self.port, type=socket.SOCK_DGRAM, family=socket.AF_INET
            )
        except socket.gaierror as exc:
            raise ServerUnreachable(f"cannot resolve {self.server}: {exc}") from None
        host, port = str(infos[0][4][0]), int(infos[0][4][1])
        self.server = host
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _SipProtocol(self), remote_addr=(host, port)
        )
        self.transport = transport
        self.local_ip, self.local_port = transport.get_extra_info("sockname")[:2]
        self.call_id = f"{uuid.uuid4().hex}@{self.local_ip}"

    async def _place(self, report: CallReport) -> bool:
        """INVITE until answered or failed; True when answered (ACK sent)."""
        t_invite = self.clock()
        deadline = t_invite + self.answer_timeout_s
        auth: tuple[str, str] | None = None
        tried_nonces: set[str] = set()
        report.started_at = datetime.now(UTC).isoformat()
        while True:
            tx = self._start_tx(self._invite(auth))
            invite = tx.request
            while True:
                remaining = deadline - self.clock()
                try:
                    resp = await self._next_response(tx, max(0.0, remaining))
                except SipTimeout:
                    if tx.provisional and tx.final is None:
                        return await self._cancel_invite(tx, report)
                    self._end_tx(tx)
                    report.sip_status = None
                    report.error = (
                        f"no answer from {self.server}:{self.port} within"
                        f" {min(self.answer_timeout_s, 64 * T1):.0f} s"
                    )
                    return False
                if resp.status < 200:
                    if resp.status in (180, 183) and report.ringing_ms is None:
                        report.ringing_ms = (self.clock() - t_invite) * 1000.0
                    continue
                break
            self._end_tx(tx)
            report.sip_status, report.sip_reason = resp.status, resp.reason
            if 200 <= resp.status < 300:
                report.setup_ms = (self.clock() - t_invite) * 1000.0
                self._establish_dialog(resp)
                await self._start_media(resp, report)
                return True
            if resp.status in (401, 407) and self.credentials is not None:
                header = "www-authenticate" if resp.status == 401 else "proxy-authenticate"
                try:
                    challenge = parse_challenge(resp.header(header))
                except SipParseError as exc:
                    report.error = f"cannot answer the authentication challenge: {exc}"
                    return False
                if challenge.nonce in tried_nonces and not challenge.stale:
                    report.error = "authentication rejected (wrong credentials?)"
                    return False
                tried_nonces.add(challenge.nonce)
                value = digest_authorization(
                    challenge,
                    "INVITE",
                    invite.uri,
                    self.credentials.username,
                    self.credentials.password,
                )
                auth = ("Authorization" if resp.status == 401 else "Proxy-Authorization", value)
                report.authenticated = True
                continue
            report.error = f"call rejected: {resp.status} {resp.reason}"
            return False

    async def _cancel_invite(self, tx: _ClientTx, report: CallReport) -> bool:
        """Answer timeout after ringing: CANCEL, then expect 487 on the INVITE."""
        ctx = self._start_tx(self._cancel(tx.request))
        with contextlib.suppress(SipTimeout, ServerUnreachable):
            await self._next_response(ctx, 64 * T1)
        self._end_tx(ctx)
        try:
            resp = await self._next_response(tx, 64 * T1)
        except (SipTimeout, ServerUnreachable):
            report.error = (
                f"not answered within {self.answer_timeout_s:.0f} s (CANCEL sent, no 487)"
            )
            return False
        report.sip_status, report.sip_reason = resp.status, resp.reason
        if 200 <= resp.status < 300:  # answered while we cancelled: take it, then hang up
            self._establish_dialog(resp)
            await self._start_media(resp, report)
            report.error = (
                f"not answered within {self.answer_timeout_s:.0f} s (answered during CANCEL)"
            )
            await self._bye(report)
            return False
        report.error = f"not answered within {self.answer_timeout_s:.0f} s (cancelled)"
        return False

    async def _start_media(self, ok: SipMessage, report: CallReport) -> None:
        self._answered_at = self.clock()
        try:
            answer = parse_sdp(ok.body)
        except SipParseError as exc:
            report.error = f"bad SDP answer: {exc}"
            return
        pt = answer.audio_pt
        if pt is None:
            report.error = f"the far end accepted no G.711 codec: {answer.payload_types}"
            return
        self.rtp.start((answer.ip, answer.port), audio_pt=pt, dtmf_pt=answer.dtmf_pt)

    async def _bye(self, report: CallReport) -> None:
        self.cseq += 1
        tx = self._start_tx(self._request("BYE", self._remote_target, self.cseq))
        try:
            while True:
                resp = await self._next_response(tx, 64 * T1)
                if resp.status >= 200:
                    report.bye_status = resp.status
                    break
        except (SipTimeout, ServerUnreachable):
            report.bye_status = None
        finally:
            self._end_tx(tx)

    async def _converse(self, report: CallReport) -> None:
        s = self.script
        cursor = self._answered_at
        for i, utt in enumerate(s.utterances):
            ur = UtteranceReport(
                index=i,
                kind=utt.kind,
                source=utt.source if utt.kind != "text" else utt.source[:80],
                label=utt.label,
                duration_s=round(utt.duration_s, 3),
            )
            report.utterances.append(ur)
            silence = (utt.agent_silence_ms or s.agent_silence_ms) / 1000.0
            max_wait = (utt.max_wait_ms or s.max_wait_ms) / 1000.0
            wait_start = self.clock()
            if utt.barge_in_after_ms is not None:
                ur.barge_in = True
                ur.agent_finished = None
                if not await self.tracker.wait_speaking_for(
                    cursor, utt.barge_in_after_ms / 1000.0, max_wait
                ):
                    ur.error = "agent did not speak before barge-in"
            elif utt.wait_for_agent:
                ur.agent_finished = await self.tracker.wait_end_of_speech(cursor, silence, max_wait)
            if utt.pause_ms:
                await asyncio.sleep(utt.pause_ms / 1000.0)
            ur.waited_s = round(self.clock() - wait_start, 3)
            try:
                if utt.kind == "dtmf":
                    start, end = await self.rtp.dtmf(utt.source)
                else:
                    assert utt.audio is not None
                    start, end = await self.rtp.play(utt.audio)
            except RuntimeError as exc:
                ur.error = str(exc)
                continue
            ur.sent_start_s = round(start - self._answered_at, 3)
            ur.sent_end_s = round(end - self._answered_at, 3)
            cursor = end
        if s.hangup_after_ms is not None:
            await asyncio.sleep(s.hangup_after_ms / 1000.0)
        else:
            await self.tracker.wait_end_of_speech(
                cursor, s.agent_silence_ms / 1000.0, s.max_wait_ms / 1000.0
            )

    # -- entry point ----------------------------------------------------------------

    async def run(self) -> CallReport:
        report = CallReport(
            call_id="",
            caller_id=self.caller_id,
            to=self.to,
            server=f"{self.server}:{self.port}",
            sent_audio_s=0.0,
        )
        try:
            try:
                await self._connect()
            except (OSError, ServerUnreachable) as exc:
                report.error = f"cannot reach {self.server}:{self.port}: {exc}"
                return report
            report.call_id = self.call_id
            await self.rtp.bind(self.local_ip)
            self._sdp = sdp_offer(self.local_ip, self.rtp.local_port, secrets.randbelow(2**31))
            try:
                answered = await self._place(report)
            except ServerUnreachable as exc:
                report.error = f"SIP server {self.server}:{self.port} unreachable: {exc}"
                return report
            if not answered:
                return report
            report.answered = True
            if report.error:  # bad SDP: hang up straight away
                await self._bye(report)
                report.hangup_by = "caller"
                return report
            talk = asyncio.get_running_loop().create_task(self._converse(report))
            bye_wait = asyncio.get_running_loop().create_task(self._remote_bye.wait())
            done, _ = await asyncio.wait(
                {talk, bye_wait},
                timeout=self.script.max_call_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            ended = self.clock()
            if bye_wait in done:
                report.hangup_by = "callee"
                talk.cancel()
            else:
                bye_wait.cancel()
                if talk not in done:
                    talk.cancel()
                    report.error = f"call longer than max_call_s={self.script.max_call_s:.0f} s"
                await self._bye(report)
                report.hangup_by = "caller"
            for task in (talk, bye_wait):
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception as exc:  # a bug in the script runner must not hide the report
                    log.exception("caller script failed")
                    report.error = report.error or f"caller script failed: {exc}"
            report.duration_s = round(ended - self._answered_at, 3)
            report.sent_audio_s = round(
                sum(u.duration_s for u in report.utterances if u.sent_end_s is not None), 3
            )
            self._analyse(report, ended)
            return report
        finally:
            await self.rtp.stop()
            for tx in self._txs.values():
                self._end_tx(tx)
            if self.transport is not None:
                self.transport.close()

    # -- analysis -------------------------------------------------------------------

    def _analyse(self, report: CallReport, ended: float) -> None:
        t0 = self._answered_at
        frames = self.rtp.frames
        audio = assemble_recording(frames, t0)
        segments = merge_segments(self.tracker.voiced, TURN_GAP_S)
        level = rms(audio) if len(audio) else 0.0
        report.heard = HeardReport(
            total_s=round(sum(len(f.pcm) for f in frames) / RATE, 3),
            voiced_s=round(sum(e - s for s, e in self.tracker.voiced), 3),
            rms=round(level, 1),
            rms_dbfs=round(dbfs(level), 1),
            segments=[
                HeardSegment(round(g.start - t0, 3), round(g.end - t0, 3), round(g.duration, 3))
                for g in segments
            ],
            packets=self.rtp.stats.received_packets,
            lost_packets=self.rtp.stats.lost_packets,
            payload_types=sorted(self.rtp.stats.payload_types),
            dtmf="".join(self.rtp.stats.dtmf_received),
        )
        st = self.rtp.stats
        report.rtp = {
            "local_port": self.rtp.local_port,
            "remote": f"{self.rtp.remote[0]}:{self.rtp.remote[1]}" if self.rtp.remote else "",
            "sent_packets": st.sent_packets,
            "sent_audio_packets": st.sent_audio_packets,
            "late_ticks": st.late_ticks,
            "max_send_lag_ms": round(st.max_send_lag_ms, 2),
        }
        sent = [u for u in report.utterances if u.sent_end_s is not None]
        for k, u in enumerate(sent):
            assert u.sent_end_s is not None
            end = t0 + u.sent_end_s
            nxt = sent[k + 1] if k + 1 < len(sent) else None
            limit = t0 + nxt.sent_start_s if nxt and nxt.sent_start_s is not None else ended
            onset = self.tracker.first_voiced_after(end)
            if onset is None or onset >= limit:
                continue
            u.response_latency_ms = round((onset - end) * 1000.0, 1)
            last = max((e for s, e in self.tracker.voiced if onset <= s < limit), default=onset)
            u.agent_reply_s = round(last - onset, 3)
            u.agent_reply_voiced_s = round(self.tracker.voiced_between(onset, limit), 3)
        if self.record_path is not None:
            write_wav(self.record_path, audio)
            report.recording = str(self.record_path)


def assemble_recording(frames: list[ReceivedFrame], t0: float) -> np.ndarray:
    """What the caller heard, on the caller's timeline from ``t0`` (the answer).

    Frames are laid end to end; where the far end stopped sending for more than
    three frames the gap is filled with silence at its real length.
    """
    parts: list[np.ndarray] = []
    pos = 0
    for f in frames:
        start = round((f.at - t0) * RATE) - len(f.pcm)
        if start - pos > 3 * 160:
            parts.append(np.zeros(start - pos, dtype=np.int16))
            pos = start
        parts.append(f.pcm)
        pos += len(f.pcm)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
