"""Small JSON-over-HTTP helper shared by the WhatsApp, webhook and CRM senders."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from centralino.delivery.errors import SendError, classify_http, parse_retry_after


async def call_json(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    provider: str,
    error_message: Callable[[Any], str | None],
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    timeout_s: float = 20.0,
) -> tuple[int, Any]:
    """Send a request; return (status, parsed body) on 2xx, raise :class:`SendError` otherwise.

    ``error_message`` extracts the provider's message from its error body so the
    admin shows what the provider said, not just a status code.
    """
    try:
        async with http.request(
            method,
            url,
            headers=dict(headers or {}),
            json=json_body,
            data=form,
            params=params,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as resp:
            raw = await resp.read()
            text = raw.decode("utf-8", "replace")
            body: Any
            try:
                body = json.loads(text) if text.strip() else None
            except ValueError:
                body = text
            if 200 <= resp.status < 300:
                return resp.status, body
            try:
                detail = error_message(body)
            except Exception:  # a surprising error body must not hide the status
                detail = None
            message = f"{provider} HTTP {resp.status}: {detail or text[:500] or resp.reason}"
            raise SendError(
                message,
                retryable=classify_http(resp.status),
                status=resp.status,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
    except SendError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SendError(
            f"{provider}: connessione non riuscita ({type(exc).__name__}: {exc})", retryable=True
        ) from exc
