"""Prompt template preview and validation for the client editor.

The dialogue engine owns the template language (``agent.dialogue.prompt``): the
preview uses its ``render_prompt`` and ``validate_template`` so what the agency
sees is exactly the system prompt the phone agent gets.
"""

from __future__ import annotations

from typing import Any

from agent.dialogue.prompt import VARIABLES, PromptError, render_prompt, validate_template


def variables() -> dict[str, str]:
    """Variables a template may use, with a description (Italian, from the engine)."""
    return dict(VARIABLES)


def validate(template: str) -> list[str]:
    return list(validate_template(template))


def preview(template: str, tenant: dict[str, Any]) -> tuple[str, list[str]]:
    """(rendered text, errors); the text is empty when there are errors."""
    if not template.strip():
        return "", []
    errors = validate(template)
    if errors:
        return "", errors
    try:
        return render_prompt(template, tenant), []
    except PromptError as exc:
        return "", list(exc.errors)
