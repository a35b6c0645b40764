"""Signed JSON webhooks (the notification webhook and the "custom webhook" CRM).

Request (documented in docs/delivery.md)::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <delivery idempotency key>
    X-Centralino-Event: lead.created
    X-Centralino-Timestamp: <unix seconds>
    X-Centralino-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The receiver recomputes the HMAC over the timestamp and the raw body bytes,
compares in constant time, rejects old timestamps (replay), and treats a repeated
``Idempotency-Key`` as already processed (answering 2xx). Any 2xx is success.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from centralino.delivery.errors import SendError, SendResult, classify_http, parse_retry_after

SIGNATURE_HEADER = "X-Centralino-Signature"
TIMESTAMP_HEADER = "X-Centralino-Timestamp"
EVENT_HEADER = "X-Centralino-Event"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, max_age_s: float = 300
) -> bool:
    """Receiver side (also used by the tests' local receiver)."""
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    secret: str,
    event: str,
    payload: dict[str, Any],
    idempotency_key: str,
    timeout_s: float = 20.0,
) -> SendResult:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        EVENT_HEADER: event,
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, ts, body),
        "User-Agent": "Centralino-Webhook/1",
    }
    try:
        async with http.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as resp:
            text = (await resp.read()).decode("utf-8", "replace")
            if 200 <= resp.status < 300:
                return SendResult(
                    external_id=resp.headers.get("X-Request-Id", ""),
                    deduplicated=resp.headers.get("Idempotent-Replayed", "") == "true",
                )
            raise SendError(
                f"webhook HTTP {resp.status}: {text[:500] or resp.reason}",
                retryable=classify_http(resp.status),
                status=resp.status,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
    except SendError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SendError(
            f"webhook: connessione non riuscita ({type(exc).__name__}: {exc})", retryable=True
        ) from exc
