"""SIP message building/parsing, digest authentication and SDP of the simulated caller."""

from __future__ import annotations

import hashlib

import pytest

from centralino.simcaller.sip import (
    Challenge,
    SipMessage,
    SipParseError,
    digest_authorization,
    header_params,
    parse_challenge,
    parse_message,
    parse_sdp,
    parse_uri,
    response_to,
    sdp_offer,
    split_header_list,
    tag_of,
    uri_of,
)

RESPONSE = (
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070;received=127.0.0.1\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx\r\n"
    b'f: "+393331234567" <sip:+393331234567@127.0.0.1>;tag=aaa\r\n'
    b"t: <sip:+390212345678@127.0.0.1:5060>;tag=bbb\r\n"
    b"i: call-1@127.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"m: <sip:ast@127.0.0.1:5060>\r\n"
    b"Record-Route: <sip:p1;lr>,\r\n <sip:p2;lr>\r\n"
    b"c: application/sdp\r\n"
    b"l: 10\r\n"
    b"\r\n"
    b"0123456789EXTRA"
)


def test_parse_response_with_compact_and_folded_headers() -> None:
    msg = parse_message(RESPONSE)
    assert not msg.is_request
    assert (msg.status, msg.reason) == (200, "OK")
    assert msg.call_id == "call-1@127.0.0.1"
    assert msg.cseq == (7, "INVITE")
    assert msg.branch == "z9hG4bKabc"
    assert len(msg.header_all("via")) == 3
    assert tag_of(msg.header("to")) == "bbb"
    assert uri_of(msg.header("contact")) == "sip:ast@127.0.0.1:5060"
    assert msg.header_all("record-route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    # Content-Length bounds the body (UDP datagrams may carry trailing bytes).
    assert msg.body == b"0123456789"


def test_parse_request_and_answer_it() -> None:
    raw = (
        b"BYE sip:+393331234567@127.0.0.1:5070 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbye\r\n"
        b"From: <sip:+390212345678@127.0.0.1>;tag=bbb\r\n"
        b"To: <sip:+393331234567@127.0.0.1>;tag=aaa\r\n"
        b"Call-ID: call-1\r\nCSeq: 102 BYE\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    assert msg.is_request and msg.method == "BYE"
    assert msg.uri == "sip:+393331234567@127.0.0.1:5070"
    resp = parse_message(response_to(msg, 200, "OK").to_bytes())
    assert resp.status == 200
    assert resp.branch == "z9hG4bKbye"
    assert resp.cseq == (102, "BYE")
    assert tag_of(resp.header("to")) == "aaa"
    assert resp.header("content-length") == "0"


def test_response_to_adds_missing_to_tag() -> None:
    req = SipMessage(method="OPTIONS", uri="sip:x@y")
    for name, value in (
        ("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
        ("From", "<sip:a@b>;tag=1"),
        ("To", "<sip:x@y>"),
        ("Call-ID", "c"),
        ("CSeq", "1 OPTIONS"),
    ):
        req.add_header(name, value)
    assert tag_of(response_to(req, 200, "OK", to_tag="zz").header("to")) == "zz"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HELLO\r\n\r\n",
        b"SIP/2.0 OK\r\n\r\n",
        b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n",  # missing Call-ID, CSeq...
        b"INVITE sip:x SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: x\r\n\r\n",
        b"SIP/2.0 200 OK\r\nnocolon\r\n\r\n",
    ],
)
def test_parse_rejects_malformed(raw: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_message(raw)


def test_build_roundtrip_sets_content_length() -> None:
    msg = SipMessage(method="INVITE", uri="sip:+390212345678@127.0.0.1:5060")
    msg.add_header("via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport")
    msg.add_header("from", "<sip:a@b>;tag=1")
    msg.add_header("to", "<sip:c@d>")
    msg.add_header("call-id", "x")
    msg.add_header("cseq", "1 INVITE")
    msg.add_header("Content-Length", "999")  # replaced by the real length
    msg.body = b"v=0\r\n"
    data = msg.to_bytes()
    assert data.startswith(b"INVITE sip:+390212345678@127.0.0.1:5060 SIP/2.0\r\n")
    assert b"Call-ID: x\r\n" in data and b"CSeq: 1 INVITE\r\n" in data
    assert b"Content-Length: 5\r\n" in data and b"999" not in data
    again = parse_message(data)
    assert again.body == b"v=0\r\n"
    assert header_params(again.header("via"))["branch"] == "z9hG4bK1"


def test_uri_and_list_helpers() -> None:
    uri = parse_uri("sip:+390212345678@127.0.0.1:5080;transport=udp")
    assert (uri.user, uri.host, uri.port) == ("+390212345678", "127.0.0.1", 5080)
    assert parse_uri("sip:example.org").port is None
    with pytest.raises(SipParseError):
        parse_uri("http://x")
    assert split_header_list('"a, b" <sip:x>, <sip:y;p=1,2>') == ['"a, b" <sip:x>', "<sip:y;p=1,2>"]


def test_digest_rfc2617_example() -> None:
    """The worked example of RFC 2617 section 3.5 (qop=auth)."""
    ch = Challenge(
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )
    value = digest_authorization(
        ch, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", nc=1, cnonce="0a4f113b"
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "nc=00000001" in value and 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


def test_digest_without_qop_and_sha256() -> None:
    ch = Challenge(realm="asterisk", nonce="abc")
    value = digest_authorization(ch, "INVITE", "sip:100@pbx", "alice", "secret")
    ha1 = hashlib.md5(b"alice:asterisk:secret").hexdigest()
    ha2 = hashlib.md5(b"INVITE:sip:100@pbx").hexdigest()
    expected = hashlib.md5(f"{ha1}:abc:{ha2}".encode()).hexdigest()
    assert f'response="{expected}"' in value and "qop" not in value
    sha = digest_authorization(
        Challenge(realm="r", nonce="n", algorithm="SHA-256", qop="auth"),
        "INVITE",
        "sip:x",
        "u",
        "p",
        cnonce="c",
    )
    h1 = hashlib.sha256(b"u:r:p").hexdigest()
    h2 = hashlib.sha256(b"INVITE:sip:x").hexdigest()
    resp = hashlib.sha256(f"{h1}:n:00000001:c:auth:{h2}".encode()).hexdigest()
    assert f'response="{resp}"' in sha


def test_parse_challenge() -> None:
    ch = parse_challenge(
        'Digest realm="asterisk", nonce="1700000000/abc", opaque="o", '
        'algorithm=MD5, qop="auth,auth-int", stale=TRUE'
    )
    assert ch.realm == "asterisk" and ch.nonce == "1700000000/abc"
    assert ch.qop == "auth" and ch.stale and ch.opaque == "o"
    with pytest.raises(SipParseError):
        parse_challenge('Basic realm="x"')
    with pytest.raises(SipParseError):
        parse_challenge('Digest realm="x"')


def test_sdp_offer_and_answer() -> None:
    offer = sdp_offer("127.0.0.1", 40000, 42).decode()
    assert "m=audio 40000 RTP/AVP 0 101" in offer
    assert "a=rtpmap:101 telephone-event/8000" in offer
    assert "c=IN IP4 127.0.0.1" in offer
    answer = parse_sdp(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=Asterisk\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
        b"m=audio 12000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
    assert (answer.ip, answer.port) == ("10.0.0.5", 12000)
    assert answer.audio_pt == 0 and answer.dtmf_pt == 101
    static = parse_sdp(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 8\r\n")
    assert static.audio_pt == 8 and static.dtmf_pt is None
    assert parse_sdp(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 18\r\n").audio_pt is None
    with pytest.raises(SipParseError):
        parse_sdp(b"v=0\r\n")
