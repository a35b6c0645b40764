"""Settings of the ``[asterisk]`` section and where an Asterisk instance lives.

Asterisk runs either from the system (``prefix = "/"``) or from a Debian sid
root built by ``scripts/install-asterisk.sh`` (``prefix = ROOT``) and entered
with ``chroot``. Each *instance* has its own folder with its rendered
configuration, run files, logs and spool, so several instances (the office
server, the tests, a throwaway validation instance) can run side by side from
the same root on different ports.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from centralino.config import Config, ConfigError, secret

SECTION = "asterisk"
DEFAULT_SID_ROOT = Path("/var/cache/centralino/asterisk-sid")
# chan_websocket (externalMedia over websocket) appeared in Asterisk 22.6.
MIN_SYSTEM_VERSION = (22, 6)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


@dataclass(frozen=True)
class AsteriskSettings:
    # "" = auto: var/asterisk-prefix (written by scripts/install.sh), else "/" when a
    # system Asterisk >= 22.6 exists, else the Debian sid root.
    prefix: str = ""
    instance: str = "centralino"
    # Folder of the editable templates; "" = asterisk-conf/ of this checkout.
    template_dir: str = ""
    # SIP must be reachable by softphones and trunks; everything else is localhost only.
    sip_bind: str = "0.0.0.0"
    sip_port: int = 5060
    # Address put in SDP/Contact when the server is behind NAT ("" = not behind NAT).
    external_address: str = ""
    local_nets: str = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    http_port: int = 8088
    ami_port: int = 5038
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # Seconds the dialplan waits for the routing service before going on without it.
    agi_timeout: int = 3
    rtp_start: int = 10000
    rtp_end: int = 20000
    app_name: str = "centralino"
    ari_user: str = "centralino"
    ari_password: str = secret()
    ami_user: str = "centralino"
    ami_secret: str = secret()
    # Local no-auth endpoint matched by source address 127.0.0.1 (simulated caller,
    # SIPp). It only reaches the inbound logic, like any trunk call.
    test_endpoint: bool = True
    # Optional LAN softphone account (user "centralino-phone"); empty = no account.
    softphone_password: str = ""
    # SIP trunk of a real provider; disabled unless trunk_host is set.
    trunk_host: str = ""
    trunk_port: int = 5060
    trunk_transport: str = "udp"
    # "registration" (we register with username/password) or "ip" (provider sends
    # calls from trunk_allowed_ips, optional credentials only for outgoing calls).
    trunk_auth: str = "registration"
    trunk_username: str = ""
    trunk_password: str = ""
    trunk_from_domain: str = ""
    trunk_allowed_ips: str = ""
    trunk_codecs: str = "alaw,ulaw,g722"
    # Seconds between SIP OPTIONS pings to the provider (0 = off, for providers
    # that do not answer OPTIONS).
    trunk_qualify_seconds: int = 60
    # Number (E.164) the dialplan forwards to when the controller is down; "" = voicemail.
    fallback_forward_number: str = ""
    fallback_forward_seconds: int = 25
    voicemail_mailbox: str = "100"
    voicemail_email: str = ""
    # Asterisk user when running a system Asterisk as a service ("" = current user).
    run_user: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.instance):
            raise ValueError(
                f"instance {self.instance!r}: use lowercase letters, digits, '-' or '_'"
            )
        if not re.match(r"^[A-Za-z0-9_-]+$", self.app_name):
            raise ValueError(f"app_name {self.app_name!r}: letters, digits, '-' or '_' only")
        for name in ("sip_port", "http_port", "ami_port", "agi_port", "rtp_start", "rtp_end"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise ValueError(f"{name} {port} is not a port number")
        if not 1 <= self.agi_timeout <= 30:
            raise ValueError(f"agi_timeout {self.agi_timeout}: between 1 and 30 seconds")
        if not 0 <= self.trunk_qualify_seconds <= 3600:
            raise ValueError("trunk_qualify_seconds: between 0 (off) and 3600")
        if self.rtp_start >= self.rtp_end:
            raise ValueError(f"rtp_start {self.rtp_start} must be below rtp_end {self.rtp_end}")
        if self.trunk_auth not in ("registration", "ip"):
            raise ValueError(f"trunk_auth {self.trunk_auth!r}: use 'registration' or 'ip'")
        if self.trunk_transport not in ("udp", "tcp"):
            raise ValueError(f"trunk_transport {self.trunk_transport!r}: use 'udp' or 'tcp'")
        if self.fallback_forward_number and not re.match(
            r"^\+[1-9]\d{5,14}$", self.fallback_forward_number
        ):
            raise ValueError(
                f"fallback_forward_number {self.fallback_forward_number!r} must be E.164"
                " (e.g. +390212345678)"
            )
        if not re.match(r"^[0-9]{1,10}$", self.voicemail_mailbox):
            raise ValueError(f"voicemail_mailbox {self.voicemail_mailbox!r}: digits only")
        for name in ("ari_user", "ami_user"):
            if not re.match(r"^[A-Za-z0-9_-]+$", getattr(self, name)):
                raise ValueError(f"{name}: letters, digits, '-' or '_' only")

    @property
    def trunk_enabled(self) -> bool:
        return bool(self.trunk_host)


def load_settings(config: Config) -> AsteriskSettings:
    """The ``[asterisk]`` section with its secrets checked (error names the env var)."""
    settings = config.require(SECTION, AsteriskSettings)
    if settings.trunk_enabled and settings.trunk_auth == "registration":
        for name in ("trunk_username", "trunk_password"):
            if not getattr(settings, name):
                raise ConfigError(
                    f"missing setting asterisk.{name}: a trunk with registration needs it;"
                    f" set it in {config.source or 'the config file'} or in"
                    f" CENTRALINO_ASTERISK__{name.upper()}"
                )
    if settings.trunk_auth == "ip" and settings.trunk_enabled and not settings.trunk_allowed_ips:
        raise ConfigError(
            "asterisk.trunk_allowed_ips is required with trunk_auth = 'ip'"
            " (the provider's signalling addresses)"
        )
    return settings


def _system_version() -> tuple[int, int] | None:
    exe = shutil.which("asterisk")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def resolve_prefix(settings: AsteriskSettings, runtime_dir: Path) -> Path:
    """Where Asterisk's file system is: ``/`` or the chroot root."""
    if settings.prefix:
        return Path(settings.prefix)
    marker = runtime_dir / "asterisk-prefix"
    if marker.exists():
        text = marker.read_text(encoding="utf-8").strip()
        if text:
            return Path(text)
    version = _system_version()
    if version is not None and version >= MIN_SYSTEM_VERSION:
        return Path("/")
    return DEFAULT_SID_ROOT


@dataclass(frozen=True)
class Layout:
    """Paths of one instance, as seen from the host and from inside the root."""

    prefix: Path
    instance: str
    # Instance folder as Asterisk sees it (inside the chroot when prefix != "/").
    inner: Path

    @classmethod
    def for_instance(cls, prefix: Path, instance: str, runtime_dir: Path) -> Layout:
        if str(prefix) == "/":
            inner = runtime_dir.resolve() / "asterisk" / instance
        else:
            # The rendered folder must live inside the root to be visible after chroot.
            inner = Path("/srv/centralino") / instance
        return cls(prefix=prefix, instance=instance, inner=inner)

    @property
    def chrooted(self) -> bool:
        return str(self.prefix) != "/"

    def host(self, inner_path: Path | str) -> Path:
        """Host path of a path inside the root."""
        p = Path(inner_path)
        if not self.chrooted:
            return p
        return self.prefix / str(p).lstrip("/")

    @property
    def home(self) -> Path:
        """Instance folder on the host."""
        return self.host(self.inner)

    @property
    def etc(self) -> Path:
        return self.home / "etc"

    @property
    def previous_etc(self) -> Path:
        return self.home / "etc.previous"

    @property
    def conf_inner(self) -> Path:
        return self.inner / "etc" / "asterisk.conf"

    @property
    def log_path(self) -> Path:
        return self.home / "log" / "messages.log"

    @property
    def console_log(self) -> Path:
        return self.home / "log" / "console.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "run" / "asterisk.pid"

    @property
    def sounds(self) -> Path:
        return self.home / "sounds"

    @property
    def voicemail_dir(self) -> Path:
        return self.home / "spool" / "voicemail"

    def command(self, *args: str) -> list[str]:
        """argv running ``asterisk -C <conf> ARGS`` (inside the root when chrooted)."""
        exe = "asterisk" if self.chrooted else (shutil.which("asterisk") or "asterisk")
        argv = [exe, "-C", str(self.conf_inner), *args]
        if self.chrooted:
            return ["chroot", str(self.prefix), *argv]
        return argv

    def check_prefix(self) -> None:
        if self.chrooted and not (self.prefix / "usr/sbin/asterisk").exists():
            raise ConfigError(
                f"no Asterisk in {self.prefix}: run scripts/install.sh (or set asterisk.prefix)"
            )
        if not self.chrooted and not shutil.which("asterisk"):
            raise ConfigError("no system Asterisk found: run scripts/install.sh")


def layout_for(config: Config, settings: AsteriskSettings) -> Layout:
    prefix = resolve_prefix(settings, config.runtime_dir)
    return Layout.for_instance(prefix, settings.instance, config.runtime_dir)
