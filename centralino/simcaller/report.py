"""The simulated caller's report: what happened, measured on the caller's side."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class UtteranceReport:
    index: int
    kind: str  # wav | text | dtmf
    source: str
    label: str = ""
    duration_s: float = 0.0  # audio sent (0 for dtmf)
    # Seconds spent waiting for the agent before speaking (incl. pause_ms).
    waited_s: float = 0.0
    # True: the agent spoke and fell silent; False: max wait hit; None: not waited.
    agent_finished: bool | None = None
    barge_in: bool = False
    # Relative to the answer (200 OK), caller's monotonic clock.
    sent_start_s: float | None = None
    sent_end_s: float | None = None
    # End of this utterance -> first non-silent agent audio after it.
    response_latency_ms: float | None = None
    # The agent's reply after this utterance, up to the next utterance (or hang-up).
    agent_reply_s: float | None = None
    agent_reply_voiced_s: float | None = None
    error: str = ""


@dataclass
class HeardSegment:
    start_s: float
    end_s: float
    duration_s: float


@dataclass
class HeardReport:
    total_s: float = 0.0
    voiced_s: float = 0.0
    rms: float = 0.0
    rms_dbfs: float = -120.0
    # Agent speech turns (voiced frames merged across short pauses).
    segments: list[HeardSegment] = field(default_factory=list)
    packets: int = 0
    lost_packets: int = 0
    payload_types: list[int] = field(default_factory=list)
    dtmf: str = ""

    @property
    def non_silent(self) -> bool:
        return self.voiced_s > 0


@dataclass
class CallReport:
    call_id: str
    caller_id: str
    to: str
    server: str
    answered: bool = False
    sip_status: int | None = None
    sip_reason: str = ""
    error: str = ""
    started_at: str = ""  # wall clock (UTC, ISO 8601) when the INVITE left
    ringing_ms: float | None = None  # INVITE -> first 180/183
    setup_ms: float | None = None  # INVITE -> 200 OK
    duration_s: float | None = None  # 200 OK -> BYE
    hangup_by: str = ""  # caller | callee | "" (never answered)
    bye_status: int | None = None
    authenticated: bool = False
    sent_audio_s: float = 0.0
    utterances: list[UtteranceReport] = field(default_factory=list)
    heard: HeardReport = field(default_factory=HeardReport)
    rtp: dict[str, Any] = field(default_factory=dict)
    recording: str = ""
    stored_call: dict[str, Any] | None = None
    stored_call_error: str = ""

    @property
    def ok(self) -> bool:
        return self.answered and not self.error

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["heard"]["non_silent"] = self.heard.non_silent
        data["ok"] = self.ok
        return data

    def summary(self) -> str:
        """A few human-readable lines for the terminal."""
        lines = [f"call {self.call_id} {self.caller_id} -> {self.to} via {self.server}"]
        status = (
            f"SIP {self.sip_status} {self.sip_reason}".strip()
            if self.sip_status
            else "no SIP answer"
        )
        if not self.answered:
            lines.append(f"  not answered: {status}" + (f" ({self.error})" if self.error else ""))
            return "\n".join(lines)
        lines.append(
            f"  answered in {self.setup_ms:.0f} ms, lasted {self.duration_s or 0:.2f} s,"
            f" hung up by {self.hangup_by or '?'}"
        )
        h = self.heard
        lines.append(
            f"  heard {h.total_s:.2f} s of audio, {h.voiced_s:.2f} s non-silent"
            f" ({h.rms_dbfs:.1f} dBFS), {len(h.segments)} agent turn(s)"
        )
        for u in self.utterances:
            lat = f"{u.response_latency_ms:.0f} ms" if u.response_latency_ms is not None else "none"
            reply = f"{u.agent_reply_s:.2f} s" if u.agent_reply_s is not None else "-"
            lines.append(
                f"  [{u.index}] {u.kind} {u.duration_s:.2f} s after waiting {u.waited_s:.2f} s;"
                f" agent response latency {lat}, reply {reply}"
                + (f" ERROR {u.error}" if u.error else "")
            )
        lines.append(f"  sent {self.sent_audio_s:.2f} s of caller audio")
        if self.recording:
            lines.append(f"  recording of what the caller heard: {self.recording}")
        if self.stored_call:
            c = self.stored_call
            lines.append(
                f"  stored call {c.get('id')}: tenant {c.get('tenant_slug') or c.get('tenant_id')},"
                f" caller {c.get('caller_id')}, DID {c.get('did')}, outcome {c.get('outcome')},"
                f" duration {c.get('duration_s')}"
            )
        elif self.stored_call_error:
            lines.append(f"  stored call: {self.stored_call_error}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)
