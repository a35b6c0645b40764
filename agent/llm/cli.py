"""``centralino llm check`` / ``centralino llm extract TEXT``: try the configured LLM chain."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from agent.extraction import EXTRACTION_SCHEMA
from agent.llm.base import LLMError
from agent.llm.factory import make_llm
from centralino.cli import Context, pass_ctx
from centralino.config import ConfigError


@click.group()
def llm() -> None:
    """The dialogue's LLM providers (Ollama, llama.cpp; the rules always answer last)."""


@llm.command()
@pass_ctx
def check(ctx: Context) -> None:
    """Check every configured provider: reachable, model present / loadable."""
    try:
        chain = make_llm(ctx.config)
    except (ConfigError, LLMError) as exc:
        raise click.ClickException(str(exc)) from exc
    if chain is None:
        click.echo("llm.providers is empty: rules only (nothing to check)")
        return

    async def run() -> list[str]:
        problems = []
        for provider in chain.providers:
            probe = getattr(provider, "check", None) or getattr(provider, "load", None)
            try:
                if probe is not None:
                    await probe()
                click.echo(f"{provider.name}: ok")
            except LLMError as exc:
                problems.append(f"{provider.name}: {exc}")
        await chain.aclose()
        return problems

    problems = asyncio.run(run())
    if problems:
        raise click.ClickException("; ".join(problems))


@llm.command()
@click.argument("text")
@click.option("--budget", type=float, default=None, help="turn budget in seconds")
@pass_ctx
def extract(ctx: Context, text: str, budget: float | None) -> None:
    """Ask the chain for the lead fields in TEXT (as a caller's turn) and print them."""
    try:
        chain = make_llm(ctx.config)
    except (ConfigError, LLMError) as exc:
        raise click.ClickException(str(exc)) from exc
    from agent.llm.chain import FallbackChain
    from agent.llm.rules import RulesProvider

    chain = chain or FallbackChain([], RulesProvider())
    messages = [{"role": "user", "content": text}]

    async def run() -> dict[str, object]:
        result = await chain.chat(messages, schema=EXTRACTION_SCHEMA, timeout=budget)
        await chain.aclose()
        return {
            "provider": result.provider,
            "ms": round(result.elapsed_ms, 1),
            "fallbacks": result.fallbacks,
            "data": result.data,
        }

    json.dump(asyncio.run(run()), sys.stdout, ensure_ascii=False, indent=2)
    click.echo()
