"""``check`` and ``reload``: apply edited templates safely.

A candidate configuration is first rendered and loaded in a *throwaway*
Asterisk instance (same templates and settings, free loopback ports, no trunk
registration). Only if that instance boots cleanly — every listed module
running, no configuration errors in its log, the expected contexts and
endpoints present, every dialplan application registered — is the candidate
installed in the live instance. The live instance keeps the previous version
in ``etc.previous``; if the live reload reports errors, the previous files are
put back and reloaded, so the previous configuration keeps serving calls.
"""

from __future__ import annotations

import dataclasses
import difflib
import fcntl
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from centralino.asterisk.instance import Instance, throwaway_settings, unique_name
from centralino.asterisk.process import AsteriskError
from centralino.asterisk.render import Rendered, RenderError
from centralino.asterisk.settings import AsteriskSettings, Layout

log = logging.getLogger(__name__)

# Files that only take effect at restart.
RESTART_FILES = ("asterisk.conf", "modules.conf")
# How each file is applied to a running Asterisk.
RELOAD_COMMANDS = {
    "extensions.conf": "dialplan reload",
    "pjsip.conf": "module reload res_pjsip.so",
    "ari.conf": "module reload res_ari.so",
    "manager.conf": "manager reload",
    "http.conf": "module reload http",
    "rtp.conf": "module reload res_rtp_asterisk.so",
    "voicemail.conf": "module reload app_voicemail.so",
    "logger.conf": "logger reload",
    "features.conf": "module reload features",
    "indications.conf": "module reload indications",
    "cdr.conf": "module reload cdr",
    "cel.conf": "module reload cel",
    "pjproject.conf": "module reload res_pjproject.so",
}
# Log lines that mean "this configuration is wrong" (errors, and warnings of the
# configuration parsers).
_CONFIG_SOURCES = (
    r"(config\.c|config_options\.c|pbx_config\.c|res_sorcery_config\.c|loader\.c|tcptls\.c"
    r"|res_pjsip[\w/]*config\w*\.c|res_pjsip\.c|manager\.c|http\.c|res_ari\.c"
    r"|app_voicemail\.c|logger\.c|res_rtp_asterisk\.c)"
)
_CONFIG_PROBLEM = re.compile(r"(?:ERROR|WARNING)\[[^\]]*\]\S* " + _CONFIG_SOURCES + ":")
# Noise that is not about the configuration.
_BENIGN = (
    "Failed to find outbound websocket per-call config",
    "Stasis app '",
    "FastAGI failed",
    "Connecting to '",
    "Couldn't connect to any host",
)
_SECRET_LINE = re.compile(r"^([+\- ]\s*(?:password|secret)\s*=\s*)(\S.*)$", re.M)


@dataclass
class CheckResult:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diff: str = ""
    changed: list[str] = field(default_factory=list)
    rendered: Rendered | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def restart_needed(self) -> list[str]:
        return [f for f in self.changed if f in RESTART_FILES]


@dataclass
class ReloadResult:
    applied: bool
    check: CheckResult
    errors: list[str] = field(default_factory=list)
    rolled_back: bool = False
    message: str = ""


def redact(text: str) -> str:
    """Hide passwords/secrets in a diff shown on screen or in logs."""
    return _SECRET_LINE.sub(lambda m: m.group(1) + "********", text)


def config_diff(old_dir: Path, new: Rendered) -> tuple[str, list[str]]:
    """Unified diff between installed files in ``old_dir`` and ``new``; changed names."""
    chunks: list[str] = []
    changed: list[str] = []
    names = sorted(set(new.files) | {p.name for p in old_dir.glob("*.conf")})
    for name in names:
        old_path = old_dir / name
        old = old_path.read_text(encoding="utf-8") if old_path.exists() else ""
        text = new.files.get(name, "")
        if old == text:
            continue
        changed.append(name)
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"installed/{name}",
                tofile=f"candidate/{name}",
            )
        )
    return redact("".join(chunks)), changed


def problems_in_log(text: str, config_only: bool = False) -> tuple[list[str], list[str]]:
    """(errors, warnings) found in an Asterisk log excerpt.

    ``config_only`` (the live instance, where calls are in progress) counts only
    the configuration parsers' complaints as errors; in a throwaway instance
    any ERROR line is one.
    """
    errors: list[str] = []
    warnings: list[str] = []
    for line in text.splitlines():
        if any(b in line for b in _BENIGN):
            continue
        if _CONFIG_PROBLEM.search(line) or (not config_only and " ERROR[" in line):
            errors.append(line.strip())
        elif " WARNING[" in line:
            warnings.append(line.strip())
    return errors, warnings


_EXTEN_APP = re.compile(r"^\s*exten\s*=>\s*[^,]+,[^,]+,\s*([A-Za-z]\w*)\s*(?:\(|$)", re.M)
_SAME_APP = re.compile(r"^\s*same\s*=>\s*[^,]+,\s*([A-Za-z]\w*)\s*(?:\(|$)", re.M)
_EXECIF_APP = re.compile(r"ExecIf\(.*?\?\s*([A-Za-z]\w*)\(")


def _dialplan_apps(extensions_conf: str) -> set[str]:
    """Application names used by the dialplan (to check each one is registered)."""
    apps = set(_EXTEN_APP.findall(extensions_conf)) | set(_SAME_APP.findall(extensions_conf))
    apps |= set(_EXECIF_APP.findall(extensions_conf))
    return apps


def inspect_instance(instance: Instance, rendered: Rendered, since: int = 0) -> CheckResult:
    """Compare what a running instance loaded with what ``rendered`` asks for."""
    result = CheckResult()
    cli = instance.cli
    settings = instance.settings
    modules_out = cli("module show")
    wanted = re.findall(r"^\s*load\s*=\s*(\S+)", rendered.files.get("modules.conf", ""), re.M)
    for module in wanted:
        if not re.search(rf"^{re.escape(module)}\s", modules_out, re.M):
            result.errors.append(f"module {module} (modules.conf) did not load")
    contexts = ["inbound", "fallback", "outbound"]
    contexts.append("from-trunk" if settings.trunk_enabled else "")
    contexts.append("from-test" if settings.test_endpoint else "")
    for ctx in filter(None, contexts):
        out = cli(f"dialplan show {ctx}")
        if "There is no existence of" in out or f"Context '{ctx}'" not in out:
            result.errors.append(f"dialplan context [{ctx}] is missing (extensions.conf)")
    endpoints = cli("pjsip show endpoints")
    expected = []
    if settings.test_endpoint:
        expected.append("centralino-test")
    if settings.trunk_enabled:
        expected.append("centralino-trunk")
    if settings.softphone_password:
        expected.append("centralino-phone")
    for ep in expected:
        if not re.search(rf"Endpoint:\s+{re.escape(ep)}\b", endpoints):
            result.errors.append(f"PJSIP endpoint {ep} is missing (pjsip.conf)")
    for app in sorted(_dialplan_apps(rendered.files.get("extensions.conf", ""))):
        try:
            out = cli(f"core show application {app}")
        except AsteriskError as exc:
            out = str(exc)
        if f"Application '{app}'" not in out:
            result.errors.append(f"dialplan application {app}() does not exist (extensions.conf)")
    # Give asynchronous loaders (pjsip, sorcery) a moment to log their errors.
    time.sleep(0.3)
    errors, warnings = problems_in_log(
        _read_from(instance.layout.log_path, since), config_only=since > 0
    )
    result.errors.extend(errors)
    result.warnings.extend(warnings)
    return result


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def validate(
    settings: AsteriskSettings, live: Layout, templates: Path | None = None
) -> CheckResult:
    """Render for ``live``, load the same templates in a throwaway instance, diff."""
    live_instance = Instance(settings, live, templates)
    try:
        rendered = live_instance.render()
    except RenderError as exc:
        return CheckResult(errors=[str(exc)])
    diff, changed = config_diff(live.etc, rendered)
    name = unique_name("validate")
    scratch = Instance(
        throwaway_settings(settings, name),
        Layout.for_instance(live.prefix, name, _runtime_of(live)),
        templates,
    )
    try:
        candidate = scratch.render(validation=True)
        scratch.install(candidate)
        try:
            scratch.process.start(timeout=60)
        except AsteriskError as exc:
            result = CheckResult(errors=[f"Asterisk refused the configuration: {exc}"])
        else:
            result = inspect_instance(scratch, candidate)
    except RenderError as exc:
        result = CheckResult(errors=[str(exc)])
    finally:
        scratch.remove()
    result.diff = diff
    result.changed = changed
    result.rendered = rendered
    return result


def _runtime_of(layout: Layout) -> Path:
    # Only used when Asterisk is the system one (instances under runtime_dir/asterisk/).
    if layout.chrooted:
        return Path("var")
    return layout.inner.parent.parent


def _copy_etc(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)


def _apply(instance: Instance, changed: list[str]) -> str:
    outputs = []
    commands: list[str] = []
    for name in changed:
        cmd = RELOAD_COMMANDS.get(name)
        if cmd and cmd not in commands:
            commands.append(cmd)
    for cmd in commands:
        outputs.append(f"> {cmd}\n{instance.cli(cmd)}")
    return "\n".join(outputs)


def _reload_output_errors(output: str) -> list[str]:
    errs = []
    for line in output.splitlines():
        low = line.lower()
        if "failed" in low or "error" in low or "not found" in low or "unable" in low:
            errs.append(line.strip())
    return errs


def reload(settings: AsteriskSettings, live: Layout, templates: Path | None = None) -> ReloadResult:
    """Validate, install and apply; roll back if the running Asterisk refuses it.

    One reload at a time per instance (the CLI and the admin may both ask).
    """
    live.home.mkdir(parents=True, exist_ok=True)
    with open(live.home / ".reload.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _reload_locked(settings, live, templates)


def _reload_locked(
    settings: AsteriskSettings, live: Layout, templates: Path | None
) -> ReloadResult:
    check = validate(settings, live, templates)
    if not check.ok or check.rendered is None:
        return ReloadResult(
            applied=False,
            check=check,
            errors=check.errors,
            message="configuration refused: nothing was changed",
        )
    if not check.changed:
        return ReloadResult(applied=False, check=check, message="nothing to do: no changes")
    instance = Instance(settings, live, templates)
    had_previous = live.etc.exists()
    if had_previous:
        _copy_etc(live.etc, live.previous_etc)
    instance.install(check.rendered)
    if not instance.process.running():
        return ReloadResult(
            applied=True,
            check=check,
            message="installed; Asterisk is not running (used at next start)",
        )
    mark = _size(live.log_path)
    errors: list[str] = []
    try:
        output = _apply(instance, check.changed)
        errors += _reload_output_errors(output)
        after = inspect_instance(instance, check.rendered, since=mark)
        errors += after.errors
    except AsteriskError as exc:
        errors.append(str(exc))
    if not errors:
        msg = "reloaded"
        if check.restart_needed:
            msg += (
                f"; {', '.join(check.restart_needed)} changed: restart Asterisk"
                " (centralino asterisk restart) when no call is in progress"
            )
        return ReloadResult(applied=True, check=check, message=msg)
    # Roll back: the previous files, reloaded the same way.
    log.error("live reload failed, rolling back: %s", "; ".join(errors))
    if had_previous:
        previous = Rendered(
            {p.name: p.read_text(encoding="utf-8") for p in live.previous_etc.glob("*.conf")}
        )
        instance.install(previous)
        try:
            _apply(instance, check.changed)
        except AsteriskError as exc:
            errors.append(f"rollback reload failed: {exc}")
    return ReloadResult(
        applied=False,
        check=check,
        errors=errors,
        rolled_back=had_previous,
        message="Asterisk refused the configuration: previous configuration restored",
    )


def replace_settings(settings: AsteriskSettings, **changes: object) -> AsteriskSettings:
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
