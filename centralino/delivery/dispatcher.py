"""The outbox dispatcher: claims due rows, sends them, records the outcome.

Run it as ``centralino deliver run`` (a loop) or ``centralino deliver once``;
the scheduler's dispatch job calls :meth:`Dispatcher.run_once` too. Several
dispatchers may run at once (see :mod:`centralino.delivery.outbox` for why a row
is never sent twice concurrently).

Crash safety: the row is marked only after the target answered. A crash in
between leaves the row ``sending`` until its lease expires; then it is sent again
with the SAME idempotency key, which targets that support one use to ignore the
repeat (webhooks, Salesforce upsert, HubSpot search-then-update). Targets without
one (WhatsApp, SMTP, Pipedrive) may get a duplicate: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from centralino.config import Config
from centralino.db.session import Database
from centralino.delivery.crm import connector_class
from centralino.delivery.email import EmailSender
from centralino.delivery.errors import MissingSecret, SendError, SendResult
from centralino.delivery.outbox import ClaimedDelivery, Outbox
from centralino.delivery.settings import (
    DeliverySettings,
    DeliverySettingsError,
    SmtpSettings,
    TenantDelivery,
    WhatsAppSettings,
    parse_tenant_delivery,
)
from centralino.delivery.webhook import post_signed
from centralino.delivery.whatsapp import WhatsAppSender
from centralino.tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass
class DispatchStats:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    deferred: int = 0
    lost: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _TenantInfo:
    timezone: str
    delivery: TenantDelivery | None
    error: str = ""


class Dispatcher:
    def __init__(
        self,
        db: Database,
        config: Config,
        *,
        worker_id: str | None = None,
        environ: Mapping[str, str] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.settings = config.section("delivery", DeliverySettings)
        self.whatsapp_settings = config.section("whatsapp", WhatsAppSettings)
        self.smtp_settings = config.section("smtp", SmtpSettings)
        self.environ = dict(os.environ if environ is None else environ)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.outbox = outbox or Outbox(db, self.settings)
        self.email = EmailSender(self.smtp_settings)
        # OAuth tokens etc., reused across batches of this dispatcher.
        self._crm_cache: dict[str, Any] = {}
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    def _tenant_info(self, tenant_ids: set[int]) -> dict[int, _TenantInfo]:
        out: dict[int, _TenantInfo] = {}
        with self.db.session() as s:
            for tid in tenant_ids:
                tenant = s.get(Tenant, tid)
                if tenant is None:
                    out[tid] = _TenantInfo("Europe/Rome", None, "agenzia eliminata")
                    continue
                try:
                    target = parse_tenant_delivery((tenant.settings or {}).get("delivery"))
                    out[tid] = _TenantInfo(tenant.timezone or "Europe/Rome", target)
                except DeliverySettingsError as exc:
                    out[tid] = _TenantInfo(tenant.timezone or "Europe/Rome", None, str(exc))
        return out

    async def run_once(self, limit: int | None = None) -> DispatchStats:
        """Claim one batch and process it; returns what happened."""
        jobs = await asyncio.to_thread(self.outbox.claim, self.worker_id, limit)
        stats = DispatchStats(claimed=len(jobs))
        if not jobs:
            return stats
        tenants = await asyncio.to_thread(self._tenant_info, {j.tenant_id for j in jobs})
        sem = asyncio.Semaphore(max(1, self.settings.concurrency))

        async def one(job: ClaimedDelivery) -> None:
            async with sem:
                outcome = await self._process(job, tenants[job.tenant_id])
            setattr(stats, outcome, getattr(stats, outcome) + 1)
            stats.by_channel[job.channel] = stats.by_channel.get(job.channel, 0) + 1

        # CRM pushes of one tenant to one CRM go one after the other: two leads of the
        # same caller in a batch must not both "search, find nothing, create".
        lanes: dict[Any, list[ClaimedDelivery]] = {}
        for job in jobs:
            lane = (job.tenant_id, job.channel) if job.kind == "crm" else job.id
            lanes.setdefault(lane, []).append(job)

        async def lane_run(lane_jobs: list[ClaimedDelivery]) -> None:
            for job in lane_jobs:
                await one(job)

        await asyncio.gather(*(lane_run(js) for js in lanes.values()))
        return stats

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; sleeps ``poll_interval_s`` when idle."""
        log.info("dispatcher %s started", self.worker_id)
        while not stop.is_set():
            try:
                stats = await self.run_once()
            except Exception:  # the database may be briefly unavailable; keep the loop alive
                log.exception("dispatcher batch failed")
                stats = DispatchStats()
            if stats.claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_interval_s)
        log.info("dispatcher %s stopped", self.worker_id)

    async def _process(self, job: ClaimedDelivery, tenant: _TenantInfo) -> str:
        if job.kind in ("notify", "summary") and tenant.delivery and tenant.delivery.quiet_hours:
            until = tenant.delivery.quiet_hours.next_end(self.outbox.now(), tenant.timezone)
            if until is not None:
                ok = await asyncio.to_thread(
                    self.outbox.defer, job, until, "in attesa: fascia di silenzio dell'agenzia"
                )
                return "deferred" if ok else "lost"
        try:
            result = await self._send(job, tenant)
        except SendError as exc:
            status = await asyncio.to_thread(self.outbox.mark_failed, job, exc)
            return {"pending": "retrying", "dead": "dead"}.get(status, "lost")
        except Exception as exc:  # a bug in a sender must not stop the others
            log.exception("delivery %s: unexpected error", job.id)
            err = SendError(f"errore interno: {type(exc).__name__}: {exc}", retryable=True)
            status = await asyncio.to_thread(self.outbox.mark_failed, job, err)
            return {"pending": "retrying", "dead": "dead"}.get(status, "lost")
        ok = await asyncio.to_thread(self.outbox.mark_delivered, job, result.external_id)
        return "delivered" if ok else "lost"

    async def _send(self, job: ClaimedDelivery, tenant: _TenantInfo) -> SendResult:
        timeout = self.settings.http_timeout_s
        payload = job.payload
        if job.channel == "whatsapp":
            sender = WhatsAppSender(self.whatsapp_settings, self._session(), timeout)
            return await sender.send(job.recipient, payload)
        if job.channel == "email":
            recipients = [r.strip() for r in job.recipient.split(",") if r.strip()]
            return await asyncio.to_thread(
                self.email.send, recipients, payload, job.idempotency_key
            )
        if tenant.delivery is None:
            raise SendError(f"impostazioni di consegna non valide: {tenant.error}", retryable=False)
        if job.channel == "webhook":
            hook = tenant.delivery.webhook
            secret = hook.secret or self.environ.get(hook.secret_env, "")
            if not secret:
                raise MissingSecret(
                    "Webhook: manca il segreto delivery.webhook.secret"
                    + (f" (variabile d'ambiente {hook.secret_env})" if hook.secret_env else "")
                )
            body = {
                "event": "lead.created",
                "idempotency_key": job.idempotency_key,
                "lead": payload.get("lead", {}),
            }
            return await post_signed(
                self._session(),
                job.recipient or hook.url,
                secret,
                "lead.created",
                body,
                job.idempotency_key,
                timeout,
            )
        crm_type = "webhook" if job.channel == "crm_webhook" else job.channel
        target = next((c for c in tenant.delivery.crm if c.type == crm_type), None)
        if target is None:
            raise SendError(f"CRM {crm_type} non più configurato per l'agenzia", retryable=False)
        connector = connector_class(crm_type)(
            target, self._session(), self.environ, timeout, self._crm_cache
        )
        return await connector.push(dict(payload.get("lead", {})), job.idempotency_key)
