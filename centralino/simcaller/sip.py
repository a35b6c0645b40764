"""SIP messages (RFC 3261), digest authentication (RFC 2617/7616) and SDP.

Only what a user agent client over UDP needs: building requests and responses,
parsing what comes back, and answering a digest challenge.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

# Compact header forms (RFC 3261 section 7.3.3) mapped to their full names.
_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
}
# Canonical spelling when we write headers.
_CANONICAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}

MAGIC_COOKIE = "z9hG4bK"


class SipParseError(ValueError):
    pass


def _norm(name: str) -> str:
    low = name.strip().lower()
    return _COMPACT.get(low, low)


def _canonical(name: str) -> str:
    low = _norm(name)
    if low in _CANONICAL:
        return _CANONICAL[low]
    return "-".join(part.capitalize() for part in low.split("-"))


@dataclass
class SipMessage:
    """A request (``method`` set) or a response (``status`` set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def header(self, name: str, default: str = "") -> str:
        key = _norm(name)
        for n, v in self.headers:
            if _norm(n) == key:
                return v
        return default

    def header_all(self, name: str) -> list[str]:
        """All values, comma-separated lists split (Via, Record-Route...)."""
        key = _norm(name)
        out: list[str] = []
        for n, v in self.headers:
            if _norm(n) == key:
                out.extend(split_header_list(v))
        return out

    def set_header(self, name: str, value: str) -> None:
        key = _norm(name)
        self.headers = [(n, v) for n, v in self.headers if _norm(n) != key]
        self.headers.append((_canonical(name), value))

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((_canonical(name), value))

    @property
    def call_id(self) -> str:
        return self.header("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        raw = self.header("cseq").split()
        if len(raw) != 2 or not raw[0].isdigit():
            raise SipParseError(f"bad CSeq {self.header('cseq')!r}")
        return int(raw[0]), raw[1].upper()

    @property
    def branch(self) -> str:
        vias = self.header_all("via")
        return header_params(vias[0]).get("branch", "") if vias else ""

    def to_bytes(self) -> bytes:
        start = (
            f"{self.method} {self.uri} SIP/2.0"
            if self.is_request
            else f"SIP/2.0 {self.status} {self.reason}"
        )
        lines = [start]
        lines += [f"{n}: {v}" for n, v in self.headers if _norm(n) != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, respecting quotes and <...>."""
    out: list[str] = []
    depth = 0
    quoted = False
    cur: list[str] = []
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        if ch == "," and not quoted and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def parse_message(data: bytes) -> SipMessage:
    """Parse one SIP message from a UDP datagram."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("SIP head is not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].strip():
        raise SipParseError("empty SIP message")
    msg = SipMessage()
    first = lines[0].strip()
    if first.startswith("SIP/2.0 "):
        parts = first.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit() or len(parts[1]) != 3:
            raise SipParseError(f"bad status line {first!r}")
        msg.status = int(parts[1])
        msg.reason = parts[2] if len(parts) > 2 else ""
    else:
        parts = first.split(" ")
        if len(parts) != 3 or parts[2] != "SIP/2.0" or not re.fullmatch(r"[A-Za-z]+", parts[0]):
            raise SipParseError(f"bad request line {first!r}")
        msg.method, msg.uri = parts[0].upper(), parts[1]
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and msg.headers:  # folded continuation line
            n, v = msg.headers[-1]
            msg.headers[-1] = (n, v + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError(f"bad header line {line!r}")
        msg.headers.append((name.strip(), value.strip()))
    length = msg.header("content-length")
    if length.isdigit():
        body = body[: int(length)]
    msg.body = body
    for required in ("via", "call-id", "cseq", "from", "to"):
        if not msg.header(required):
            raise SipParseError(f"missing {required} header")
    msg.cseq  # noqa: B018  (validates it)
    return msg


def header_params(value: str) -> dict[str, str]:
    """``;name=value`` parameters of a header value (outside its <URI>)."""
    tail = value.rsplit(">", 1)[1] if ">" in value else value
    params: dict[str, str] = {}
    for part in tail.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip():
            params[k.strip().lower()] = v.strip().strip('"')
    return params


def tag_of(value: str) -> str:
    return header_params(value).get("tag", "")


def uri_of(value: str) -> str:
    """The URI of a name-addr (``"x" <sip:a@b>;tag=1``) or addr-spec value."""
    m = re.search(r"<([^>]*)>", value)
    if m:
        return m.group(1).strip()
    return value.split(";", 1)[0].strip()


@dataclass(frozen=True)
class SipUri:
    user: str
    host: str
    port: int | None


def parse_uri(uri: str) -> SipUri:
    m = re.match(r"^sips?:(?:([^@;]*)@)?([^:;>?]+|\[[^\]]+\])(?::(\d+))?", uri.strip())
    if not m:
        raise SipParseError(f"bad SIP URI {uri!r}")
    return SipUri(m.group(1) or "", m.group(2), int(m.group(3)) if m.group(3) else None)


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def response_to(request: SipMessage, status: int, reason: str, to_tag: str = "") -> SipMessage:
    """A response copying the headers RFC 3261 section 8.2.6.2 requires."""
    resp = SipMessage(status=status, reason=reason)
    for n, v in request.headers:
        if _norm(n) == "via":
            resp.add_header("Via", v)
    to = request.header("to")
    if to_tag and not tag_of(to):
        to = f"{to};tag={to_tag}"
    resp.add_header("From", request.header("from"))
    resp.add_header("To", to)
    resp.add_header("Call-ID", request.call_id)
    resp.add_header("CSeq", request.header("cseq"))
    return resp


# --- Digest authentication -------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: str = ""
    opaque: str = ""
    stale: bool = False


def parse_challenge(value: str) -> Challenge:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise SipParseError(f"unsupported authentication scheme {scheme!r}")
    params: dict[str, str] = {}
    for item in split_header_list(rest):
        k, _, v = item.partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    if "nonce" not in params:
        raise SipParseError("digest challenge without nonce")
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    return Challenge(
        realm=params.get("realm", ""),
        nonce=params["nonce"],
        algorithm=params.get("algorithm", "MD5") or "MD5",
        qop="auth" if "auth" in qops else "",
        opaque=params.get("opaque", ""),
        stale=params.get("stale", "").lower() == "true",
    )


def _hash(algorithm: str, text: str) -> str:
    algo = algorithm.upper().removesuffix("-SESS")
    if algo == "MD5":
        return hashlib.md5(text.encode()).hexdigest()
    if algo == "SHA-256":
        return hashlib.sha256(text.encode()).hexdigest()
    if algo == "SHA-512-256":
        return hashlib.new("sha512_256", text.encode()).hexdigest()
    raise SipParseError(f"unsupported digest algorithm {algorithm!r}")


def digest_authorization(
    challenge: Challenge,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The value of an Authorization / Proxy-Authorization header."""
    algo = challenge.algorithm
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = _hash(algo, f"{username}:{challenge.realm}:{password}")
    if algo.upper().endswith("-SESS"):
        ha1 = _hash(algo, f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = _hash(algo, f"{method}:{uri}")
    parts = [
        f'username="{username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
    ]
    if challenge.qop:
        ncs = f"{nc:08x}"
        response = _hash(algo, f"{ha1}:{challenge.nonce}:{ncs}:{cnonce}:{challenge.qop}:{ha2}")
        parts += [f"qop={challenge.qop}", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        response = _hash(algo, f"{ha1}:{challenge.nonce}:{ha2}")
    parts.append(f'response="{response}"')
    parts.append(f"algorithm={algo}")
    if challenge.opaque:
        parts.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(parts)


# --- SDP ---------------------------------------------------------------------

PCMU = 0
PCMA = 8
DTMF_PT = 101


def sdp_offer(ip: str, port: int, session_id: int, dtmf_pt: int = DTMF_PT) -> bytes:
    lines = [
        "v=0",
        f"o=- {session_id} {session_id} IN IP4 {ip}",
        "s=centralino-simcaller",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {PCMU} {dtmf_pt}",
        f"a=rtpmap:{PCMU} PCMU/8000",
        f"a=rtpmap:{dtmf_pt} telephone-event/8000",
        f"a=fmtp:{dtmf_pt} 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True)
class SdpAnswer:
    ip: str
    port: int
    payload_types: tuple[int, ...]
    rtpmap: dict[int, str]
    direction: str = "sendrecv"

    @property
    def audio_pt(self) -> int | None:
        """The first offered voice codec we can decode (PCMU or PCMA)."""
        for pt in self.payload_types:
            name = self.rtpmap.get(pt, {0: "PCMU/8000", 8: "PCMA/8000"}.get(pt, ""))
            if name.upper().startswith(("PCMU/8000", "PCMA/8000")):
                return pt
        return None

    def codec_of(self, pt: int) -> str:
        return self.rtpmap.get(pt, {0: "PCMU/8000", 8: "PCMA/8000"}.get(pt, "")).upper()

    @property
    def dtmf_pt(self) -> int | None:
        for pt in self.payload_types:
            if self.rtpmap.get(pt, "").lower().startswith("telephone-event/8000"):
                return pt
        return None


def parse_sdp(body: bytes) -> SdpAnswer:
    text = body.decode("utf-8", errors="replace")
    session_ip = ""
    media_ip = ""
    port = -1
    pts: tuple[int, ...] = ()
    rtpmap: dict[int, str] = {}
    direction = "sendrecv"
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("c=IN IP4 ") or line.startswith("c=IN IP6 "):
            addr = line.split()[2].split("/")[0]
            if in_audio:
                media_ip = addr
            elif port < 0:
                session_ip = addr
        elif line.startswith("m="):
            fields = line[2:].split()
            in_audio = fields[0] == "audio" and port < 0
            if in_audio:
                port = int(fields[1])
                pts = tuple(int(f) for f in fields[3:] if f.isdigit())
        elif in_audio and line.startswith("a=rtpmap:"):
            num, _, name = line[len("a=rtpmap:") :].partition(" ")
            if num.isdigit():
                rtpmap[int(num)] = name.strip()
        elif in_audio and line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
            direction = line[2:]
    ip = media_ip or session_ip
    if port < 0 or not ip:
        raise SipParseError("SDP answer without an audio stream")
    return SdpAnswer(ip=ip, port=port, payload_types=pts, rtpmap=rtpmap, direction=direction)
