"""``centralino init``: create the local config file with generated secrets.

There are no default passwords anywhere: the ARI password, the AMI secret and
the admin session key are generated here (``secrets.token_urlsafe``) the first
time, and never overwritten afterwards. The file is readable by its owner only.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from pathlib import Path

import click

# (section, key, bytes of randomness)
GENERATED = (
    ("asterisk", "ari_password", 24),
    ("asterisk", "ami_secret", 24),
    ("admin", "secret_key", 32),
)

HEADER = """# Centralino configuration (created by `centralino init`).
# Secrets below were generated for this server: keep this file private (0600).
# Every setting can also come from the environment: CENTRALINO_SECTION__KEY.
"""


def _set_key(text: str, section: str, key: str, value: str) -> str:
    """Add ``key = "value"`` to ``[section]`` (creating the section at the end)."""
    line = f'{key} = "{value}"\n'
    header = re.compile(rf"^\[{re.escape(section)}\]\s*$", re.M)
    m = header.search(text)
    if not m:
        if text and not text.endswith("\n"):
            text += "\n"
        return f"{text}\n[{section}]\n{line}"
    # An existing empty value (key = "") is replaced in place.
    empty = re.compile(rf'^{re.escape(key)}\s*=\s*(""|\'\')\s*$', re.M)
    section_end = re.search(r"^\[", text[m.end() :], re.M)
    end = m.end() + (section_end.start() if section_end else len(text) - m.end())
    body = text[m.end() : end]
    if empty.search(body):
        body = empty.sub(line.rstrip("\n"), body, count=1)
        return text[: m.end()] + body + text[end:]
    return text[: m.end()] + "\n" + line.rstrip("\n") + text[m.end() :]


def init_config(path: Path) -> list[str]:
    """Create/complete ``path``; return the ``section.key`` names that were generated."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise click.ClickException(f"{path} is not valid TOML, not touching it: {exc}") from exc
    generated = []
    for section, key, nbytes in GENERATED:
        table = data.get(section, {})
        if isinstance(table, dict) and table.get(key):
            continue
        text = _set_key(text, section, key, secrets.token_urlsafe(nbytes))
        generated.append(f"{section}.{key}")
    tomllib.loads(text)  # never write a file we could not read back
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return generated


@click.command("init")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CENTRALINO_CONFIG",
    default=Path("var/centralino.toml"),
    show_default=True,
    help="Config file to create or complete.",
)
def init(path: Path) -> None:
    """Create the config file with generated secrets (existing ones are kept)."""
    generated = init_config(path)
    if generated:
        click.echo(f"{path}: generated {', '.join(generated)}")
    else:
        click.echo(f"{path}: all secrets already set, nothing changed")
