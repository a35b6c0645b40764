"""The tenant's prompt template: Jinja2 (sandboxed), with a fixed set of variables.

Agencies edit the template in the admin; :func:`validate_template` names syntax
errors and unknown variables (in Italian: the admin shows them as they are),
:func:`render_prompt` fills it from a tenant snapshot for the LLM system prompt
and the admin's live preview.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from centralino.tenants.defaults import (
    DEFAULT_GREETING,
    DEFAULT_PROMPT_TEMPLATE,
    DEFAULT_QUESTIONS,
)

# Variables a template may use, with what they contain (shown in the admin help).
VARIABLES: dict[str, str] = {
    "agency": "nome dell'agenzia",
    "questions": "le domande da porre, separate da punto e virgola",
    "zones": "le zone servite, separate da virgola",
    "premium_zones": "le zone di pregio, separate da virgola",
    "vocabulary": "parole tipiche dell'agenzia (vie, quartieri, tipologie)",
    "faq": "le domande frequenti con le risposte",
    "transfer_number": "il numero per il trasferimento a un collega",
}


class PromptError(ValueError):
    """The template cannot be rendered; ``errors`` lists why (Italian)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _env() -> SandboxedEnvironment:
    # Sandboxed: the template is agency-editable text, it must not reach Python objects.
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def validate_template(template: str) -> list[str]:
    """Errors in ``template`` (empty list when it is valid)."""
    if template is None:
        return ["Il modello è vuoto."]
    env = _env()
    try:
        ast = env.parse(template)
    except TemplateSyntaxError as exc:
        return [f"Errore di sintassi alla riga {exc.lineno}: {exc.message}"]
    unknown = sorted(meta.find_undeclared_variables(ast) - set(VARIABLES))
    errors = [
        f"Variabile sconosciuta: {{{{ {name} }}}} (disponibili: {', '.join(VARIABLES)})"
        for name in unknown
    ]
    if not template.strip():
        errors.append("Il modello è vuoto.")
    return errors


def template_context(tenant: dict[str, Any]) -> dict[str, str]:
    questions = tenant.get("questions") or DEFAULT_QUESTIONS
    faq = tenant.get("faq") or []
    return {
        "agency": str(tenant.get("name") or ""),
        "questions": "; ".join(str(q.get("text", "")) for q in questions if q.get("text")),
        "zones": ", ".join(tenant.get("zones") or []),
        "premium_zones": ", ".join(tenant.get("premium_zones") or []),
        "vocabulary": ", ".join(tenant.get("vocabulary") or []),
        "faq": "\n".join(f"- {e.get('question')}: {e.get('answer')}" for e in faq),
        "transfer_number": str(tenant.get("transfer_number") or ""),
    }


def render_prompt(template: str | None, tenant: dict[str, Any]) -> str:
    """Render ``template`` (the tenant default when empty) or raise :class:`PromptError`."""
    text = template if template and template.strip() else DEFAULT_PROMPT_TEMPLATE
    errors = validate_template(text)
    if errors:
        raise PromptError(errors)
    try:
        return _env().from_string(text).render(**template_context(tenant)).strip()
    except Exception as exc:  # sandbox violations, filters with bad arguments...
        raise PromptError([f"Errore nel modello: {exc}"]) from exc


def render_greeting(greeting: str | None, tenant: dict[str, Any]) -> str:
    """The greeting with the agency name; accepts ``{agency}`` and ``{{ agency }}``."""
    text = greeting if greeting and greeting.strip() else DEFAULT_GREETING
    agency = str(tenant.get("name") or "")
    for placeholder in ("{{ agency }}", "{{agency}}", "{agency}"):
        text = text.replace(placeholder, agency)
    return text.strip()
