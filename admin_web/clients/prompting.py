"""Prompt template preview and validation for the client editor.

The dialogue engine owns the template language: when ``agent.dialogue.prompt``
is installed its ``render_prompt(template, tenant)`` and
``validate_template(template)`` are used, so the preview is exactly what the
phone agent will get. Until then a sandboxed Jinja2 renderer with the same
variables stands in (kept deliberately small).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from admin_web.services import optional_module

# Variables a template may use, with what they contain (shown next to the editor).
FALLBACK_VARIABLES: dict[str, str] = {
    "agency": "agency name",
    "questions": "the questions, in order",
    "zones": "zones served",
    "premium_zones": "premium zones",
    "faq": "FAQ answers",
    "transfer_number": "transfer number",
    "greeting": "greeting",
}

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _fallback_context(tenant: dict[str, Any]) -> dict[str, Any]:
    return {
        "agency": tenant.get("name", ""),
        "questions": "; ".join(str(q.get("text", "")) for q in tenant.get("questions") or []),
        "zones": ", ".join(tenant.get("zones") or []),
        "premium_zones": ", ".join(tenant.get("premium_zones") or []),
        "faq": "\n".join(
            f"{f.get('question', '')}: {f.get('answer', '')}" for f in tenant.get("faq") or []
        ),
        "transfer_number": tenant.get("transfer_number", ""),
        "greeting": tenant.get("greeting", ""),
    }


def _fallback_validate(template: str) -> list[str]:
    try:
        ast = _env.parse(template)
    except TemplateSyntaxError as exc:
        return [f"riga {exc.lineno}: errore di sintassi: {exc.message}"]
    unknown = sorted(meta.find_undeclared_variables(ast) - set(FALLBACK_VARIABLES))
    return [f"variabile sconosciuta: {name}" for name in unknown]


def _fallback_render(template: str, tenant: dict[str, Any]) -> str:
    return _env.from_string(template).render(**_fallback_context(tenant))


@dataclass(frozen=True)
class PromptTools:
    render: Callable[[str, dict[str, Any]], str]
    validate: Callable[[str], list[str]]
    variables: dict[str, str]
    engine: str  # "dialogue" when the real engine's functions are used

    def preview(self, template: str, tenant: dict[str, Any]) -> tuple[str, list[str]]:
        """(rendered text, errors); the text is empty when there are errors."""
        errors = list(self.validate(template))
        if errors:
            return "", errors
        try:
            return self.render(template, tenant), []
        except Exception as exc:  # a runtime error in a valid-looking template
            return "", [str(exc)]


def prompt_tools() -> PromptTools:
    module = optional_module("agent.dialogue.prompt")
    if (
        module is not None
        and hasattr(module, "render_prompt")
        and hasattr(module, "validate_template")
    ):
        variables = getattr(module, "PROMPT_VARIABLES", None) or getattr(module, "VARIABLES", None)
        if isinstance(variables, dict):
            described = {str(k): str(v) for k, v in variables.items()}
        elif variables:
            described = {str(k): "" for k in variables}
        else:
            described = dict(FALLBACK_VARIABLES)
        return PromptTools(module.render_prompt, module.validate_template, described, "dialogue")
    return PromptTools(_fallback_render, _fallback_validate, dict(FALLBACK_VARIABLES), "fallback")
