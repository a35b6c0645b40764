"""Render the editable templates of ``asterisk-conf/`` into an instance folder.

Templates are Jinja2 files (``NAME.conf.j2``) with undefined variables being an
error, so a typo in a template fails at render time with the template name and
line instead of producing a half-empty Asterisk config.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from centralino.asterisk.settings import AsteriskSettings, Layout

log = logging.getLogger(__name__)

REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "asterisk-conf"
# Instance sub-folders Asterisk writes to.
RUNTIME_DIRS = ("lib", "lib/agi-bin", "spool", "run", "log", "cache", "sounds")

UNAVAILABLE_TEXT = (
    "Buongiorno. Il nostro assistente al momento non è disponibile. Lasci un messaggio"
    " dopo il segnale acustico, con nome e numero di telefono: la richiameremo al più presto."
)
FORWARD_TEXT = (
    "Buongiorno. Il nostro assistente al momento non è disponibile:"
    " la metto in contatto con un collega, resti in linea."
)
UNAVAILABLE_PROMPT = "centralino-non-disponibile"
FORWARD_PROMPT = "centralino-inoltro"
# Core Italian prompts used when no offline voice is installed.
CORE_UNAVAILABLE = "vm-nobodyavail&vm-intro"
CORE_FORWARD = "pls-hold-while-try"


class RenderError(ValueError):
    """A template could not be rendered; the message names the template."""


@dataclass(frozen=True)
class Rendered:
    """Rendered configuration: file name -> content."""

    files: dict[str, str]

    def write(self, dest: Path) -> None:
        """Write every file into ``dest`` (created, mode 0750: it holds secrets)."""
        dest.mkdir(parents=True, exist_ok=True)
        os.chmod(dest, 0o750)
        for name, text in self.files.items():
            path = dest / name
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o640)
            tmp.replace(path)
        for old in dest.iterdir():
            if old.is_file() and old.name not in self.files:
                old.unlink()


def template_dir(settings: AsteriskSettings) -> Path:
    return Path(settings.template_dir) if settings.template_dir else REPO_TEMPLATES


def module_dir(prefix: Path) -> str:
    """Asterisk's module folder as seen by Asterisk (inside the root)."""
    candidates = sorted(prefix.glob("usr/lib/*/asterisk/modules")) + sorted(
        prefix.glob("usr/lib/asterisk/modules")
    )
    for c in candidates:
        if (c / "chan_pjsip.so").exists():
            return "/" + str(c.relative_to(prefix))
    return "/usr/lib/asterisk/modules"


def _vm_password(settings: AsteriskSettings) -> str:
    # Deterministic (the rendered diff stays stable) but derived from a secret.
    digest = hashlib.sha256(("voicemail:" + settings.ami_secret).encode()).hexdigest()
    return str(int(digest[:12], 16))[:8]


def render(
    settings: AsteriskSettings,
    layout: Layout,
    templates: Path | None = None,
    *,
    prompts: dict[str, str] | None = None,
    validation: bool = False,
) -> Rendered:
    """Render every ``*.j2`` template of ``templates``; raise :class:`RenderError`."""
    folder = templates or template_dir(settings)
    if not folder.is_dir():
        raise RenderError(f"template folder {folder} does not exist")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    prompts = prompts or {}
    context = {
        "s": settings,
        "instance": layout.instance,
        "inner": str(layout.inner),
        "moddir": module_dir(layout.prefix),
        "datadir": "/usr/share/asterisk",
        "sbindir": "/usr/sbin",
        "local_nets": [n.strip() for n in settings.local_nets.split(",") if n.strip()],
        "trunk_ips": [n.strip() for n in settings.trunk_allowed_ips.split(",") if n.strip()],
        "forward": bool(settings.fallback_forward_number and settings.trunk_enabled),
        "unavailable_prompt": prompts.get("unavailable", CORE_UNAVAILABLE),
        "forward_prompt": prompts.get("forward", CORE_FORWARD),
        "vm_password": _vm_password(settings),
        # True in the throwaway instance used to validate a candidate config.
        "validation": validation,
    }
    files: dict[str, str] = {}
    names = sorted(p.name for p in folder.glob("*.j2"))
    if not names:
        raise RenderError(f"no *.j2 templates in {folder}")
    for name in names:
        try:
            text = env.get_template(name).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{folder / name}:{exc.lineno}: {exc.message}") from exc
        except jinja2.UndefinedError as exc:
            raise RenderError(f"{folder / name}: {exc.message}") from exc
        files[name[: -len(".j2")]] = text
    for required in ("asterisk.conf", "modules.conf", "extensions.conf", "pjsip.conf"):
        if required not in files:
            raise RenderError(f"{folder} has no {required}.j2 template")
    return Rendered(files)


def prepare_instance(layout: Layout) -> None:
    """Create the instance folders Asterisk writes to."""
    for sub in RUNTIME_DIRS:
        (layout.home / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(layout.home, 0o750)


def _synthesize(text: str, dest_base: Path) -> bool:
    """Italian offline voice -> ``dest_base``.wav (8 kHz) and .wav16 (16 kHz)."""
    sox = shutil.which("sox")
    pico = shutil.which("pico2wave")
    espeak = shutil.which("espeak-ng")
    if not sox or not (pico or espeak):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "voice.wav"
        if pico:
            cmd = [pico, "-l", "it-IT", "-w", str(raw), text]
        else:
            cmd = [str(espeak), "-v", "it", "-s", "165", "-w", str(raw), text]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
            for ext, rate in (("wav", "8000"), ("wav16", "16000")):
                out = Path(tmp) / f"out.{ext}.wav"
                subprocess.run(
                    [sox, str(raw), "-r", rate, "-c", "1", "-b", "16", str(out)],
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                shutil.copyfile(out, f"{dest_base}.{ext}")
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("cannot synthesise the Italian prompt: %s", exc)
            return False
    return True


def voice_engine() -> str:
    """The offline voice the prompts are made with ("" = none installed)."""
    if not shutil.which("sox"):
        return ""
    if shutil.which("pico2wave"):
        return "pico2wave"
    return "espeak-ng" if shutil.which("espeak-ng") else ""


def _cached_synthesis(text: str, cache: Path) -> Path | None:
    """Synthesised prompt for ``text`` in ``cache`` (made once, shared by instances)."""
    key = hashlib.sha256(f"{voice_engine()}\n{text}".encode()).hexdigest()[:16]
    base = cache / key
    if Path(f"{base}.wav").exists() and Path(f"{base}.wav16").exists():
        return base
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".tmp-"))
    try:
        if not _synthesize(text, tmp / key):
            return None
        for ext in ("wav16", "wav"):  # .wav last: its presence means "complete"
            (tmp / f"{key}.{ext}").replace(f"{base}.{ext}")
        return base
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_prompts(layout: Layout) -> dict[str, str]:
    """Put the fallback messages in the instance; return the dialplan sound names.

    Falls back to Asterisk's recorded Italian prompts when no offline voice is
    installed, so the caller never gets dead air.
    """
    layout.sounds.mkdir(parents=True, exist_ok=True)
    cache = layout.home.parent / ".prompts"
    result: dict[str, str] = {}
    for key, name, text, core in (
        ("unavailable", UNAVAILABLE_PROMPT, UNAVAILABLE_TEXT, CORE_UNAVAILABLE),
        ("forward", FORWARD_PROMPT, FORWARD_TEXT, CORE_FORWARD),
    ):
        base = layout.sounds / name
        stamp = layout.sounds / f"{name}.txt"
        # The stamp records voice and text: a better voice installed later, or an
        # edited text, makes a new recording.
        wanted = f"{voice_engine()}\n{text}"
        fresh = (
            stamp.exists()
            and stamp.read_text(encoding="utf-8") == wanted
            and Path(f"{base}.wav").exists()
        )
        if not fresh:
            source = _cached_synthesis(text, cache)
            if source is not None:
                for ext in ("wav", "wav16"):
                    shutil.copyfile(f"{source}.{ext}", f"{base}.{ext}")
                stamp.write_text(wanted, encoding="utf-8")
                fresh = True
        result[key] = str(layout.inner / "sounds" / name) if fresh else core
    return result
