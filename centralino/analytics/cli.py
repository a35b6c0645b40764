"""``centralino demo-data``, ``centralino apikey ...``, ``centralino analytics ...``,
``centralino sentiment run``."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from centralino.analytics.service import AnalyticsError, AnalyticsService, DateRange, TenantContext
from centralino.apikeys.service import ApiKeyError, ApiKeyService
from centralino.tenants.models import Tenant
from centralino.tenants.service import TenantService, parse_spec, read_tenant_file

DEMO_FILE = Path(__file__).resolve().parents[1] / "tenants" / "demo.toml"
# Example tariffs for the demo agencies (an Italian SIP trunk, ElevenLabs' list price).
DEMO_COSTS = {
    "trunk_eur_per_min": 0.012,
    "fixed_monthly_eur": 49.0,
    "tts_eur_per_char": {"elevenlabs": 0.00018, "offline": 0.0},
}
EXTRA_DEMO_TENANTS = [
    {
        "slug": "casa-navigli",
        "name": "Casa Navigli Immobiliare",
        "numbers": ["+390287654321"],
        "zones": ["Navigli", "Porta Genova", "Tortona", "San Gottardo"],
        "premium_zones": ["Tortona"],
    },
    {
        "slug": "roma-centro",
        "name": "Roma Centro Case",
        "numbers": ["+390612345678"],
        "zones": ["Prati", "Trastevere", "Monti", "Parioli", "San Lorenzo"],
        "premium_zones": ["Parioli", "Prati"],
    },
]


def _tenant(ctx: Any, slug: str) -> Tenant:
    with ctx.db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise click.ClickException(f"no tenant {slug!r} (see `centralino tenants list`)")
        return tenant


@click.command("demo-data")
@click.option("--calls", default=3000, show_default=True, help="Calls per demo agency")
@click.option("--days", default=90, show_default=True, help="Spread over this many days")
@click.option("--seed", default=1, show_default=True)
@click.pass_obj
def demo_data(ctx: Any, calls: int, days: int, seed: int) -> None:
    """Fill the database with demo agencies and generated calls, leads and sentiment."""
    from centralino.demo.generate import GenerateSpec, generate

    if not 1 <= calls <= 2_000_000 or not 1 <= days <= 400:
        raise click.BadParameter("--calls 1..2000000, --days 1..400")
    ctx.db.upgrade()
    tenants = TenantService(ctx.db)
    specs = read_tenant_file(DEMO_FILE) + [parse_spec(t) for t in EXTRA_DEMO_TENANTS]
    analytics = AnalyticsService(ctx.db)
    for i, spec in enumerate(specs):
        with ctx.db.session() as s:
            existing = s.scalar(select(Tenant).where(Tenant.slug == spec.slug))
            settings = dict(existing.settings or {}) if existing else dict(spec.settings)
        settings.setdefault("costs", DEMO_COSTS)
        spec = parse_spec({**spec.__dict__, "settings": settings})
        tenant_id = tenants.upsert(spec)
        today = datetime.now(ZoneInfo(spec.timezone)).date()
        started = time.perf_counter()
        counts = generate(
            ctx.db,
            GenerateSpec(
                tenant_id=tenant_id,
                calls=calls,
                end=today,
                days=days,
                timezone=spec.timezone,
                zones=spec.zones or ["Centro"],
                premium_zones=spec.premium_zones,
                scoring=settings.get("scoring"),
                did=spec.numbers[0] if spec.numbers else "",
                seed=seed + i,
            ),
        )
        # Stored daily rollups predate these rows: recompute on the next read.
        analytics.invalidate(tenant_id)
        click.echo(
            f"{spec.slug}: {counts['calls']} calls, {counts['turns']} turns, "
            f"{counts['leads']} leads in {time.perf_counter() - started:.1f} s"
        )


@click.group("apikey")
def apikey() -> None:
    """API keys of the public REST API (/api/v1)."""


@apikey.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug")
@click.option("--name", required=True, help="What the key is for (shown in lists)")
@click.option("--scopes", default="read", show_default=True, help="read or read,write")
@click.pass_obj
def apikey_create(ctx: Any, slug: str, name: str, scopes: str) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    tenant = _tenant(ctx, slug)
    try:
        new = ApiKeyService(ctx.db).create(tenant.id, name, scopes)
    except ApiKeyError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field or 'name'}") from exc
    click.echo(new.secret)
    click.echo(
        f"key {new.info.prefix} for {slug} ({', '.join(new.info.scopes)}): store it now, "
        "it cannot be shown again",
        err=True,
    )


@apikey.command("list")
@click.option("--tenant", "slug", required=True)
@click.pass_obj
def apikey_list(ctx: Any, slug: str) -> None:
    tenant = _tenant(ctx, slug)
    for key in ApiKeyService(ctx.db).for_tenant(tenant.id):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        click.echo(f"{key.id}\t{key.prefix}\t{','.join(key.scopes)}\t{state}\t{used}\t{key.name}")


@apikey.command("revoke")
@click.argument("prefix")
@click.pass_obj
def apikey_revoke(ctx: Any, prefix: str) -> None:
    """Revoke the key whose prefix (ck_...) is given; effective immediately."""
    info = ApiKeyService(ctx.db).revoke_prefix(prefix.strip())
    if info is None:
        raise click.ClickException(f"no API key {prefix!r}")
    click.echo(f"revoked {info.prefix} ({info.name})")


@click.group("analytics")
def analytics() -> None:
    """Analytics reports and their stored daily rollups."""


def _range(
    ctx: Any, slug: str, start: str | None, end: str | None
) -> tuple[TenantContext, DateRange]:
    tenant = _tenant(ctx, slug)
    try:
        return TenantContext.from_tenant(tenant), DateRange.parse(start, end)
    except AnalyticsError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field}") from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@analytics.command("report")
@click.option("--tenant", "slug", required=True)
@click.option("--from", "start")
@click.option("--to", "end")
@click.pass_obj
def analytics_report(ctx: Any, slug: str, start: str | None, end: str | None) -> None:
    """Print the report for a date range (default: the last 30 days) as JSON."""
    tenant, rng = _range(ctx, slug, start, end)
    report = AnalyticsService(ctx.db).report(tenant, rng)
    click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))


@analytics.command("refresh")
@click.option("--tenant", "slug", required=True)
@click.option("--from", "start")
@click.option("--to", "end")
@click.pass_obj
def analytics_refresh(ctx: Any, slug: str, start: str | None, end: str | None) -> None:
    """Recompute stored days (after importing old calls or changing the scoring)."""
    tenant, rng = _range(ctx, slug, start, end)
    days = AnalyticsService(ctx.db).refresh(tenant, rng)
    click.echo(f"{days} day(s) recomputed")


@click.group("sentiment")
def sentiment() -> None:
    """Per-call sentiment (multilingual-e5-small, offline)."""


@sentiment.command("run")
@click.option("--limit", default=1000, show_default=True)
@click.pass_obj
def sentiment_run(ctx: Any, limit: int) -> None:
    """Classify ended calls that have no sentiment yet."""
    from centralino.sentiment.service import SentimentService

    done = SentimentService(ctx.db).run_pending(limit=limit)
    click.echo(f"{done} call(s) classified")


COMMANDS = [demo_data, apikey, analytics, sentiment]
