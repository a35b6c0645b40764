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
    """Set ``key = "value"`` in ``[section]`` (created at the end when missing).

    Works on lines so comments and the layout of the file are kept.
    """
    new_line = f'{key} = "{value}"\n'
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    header = re.compile(rf"^\s*\[{re.escape(section)}\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return "".join(lines) + f"\n[{section}]\n{new_line}"
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    empty = re.compile(rf"^\s*{re.escape(key)}\s*=\s*(\"\"|'')\s*(#.*)?$")
    for i in range(start + 1, end):
        if empty.match(lines[i]):
            lines[i] = new_line
            return "".join(lines)
    last = start
    for i in range(start + 1, end):
        if lines[i].strip():
            last = i
    lines.insert(last + 1, new_line)
    return "".join(lines)


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
