"""``[admin]`` configuration section."""

from __future__ import annotations

from dataclasses import dataclass

from centralino.config import secret


@dataclass(frozen=True)
class AdminSettings:
    # Signs the session cookie and CSRF tokens. `centralino init` generates it.
    secret_key: str = secret()
    host: str = "127.0.0.1"
    port: int = 8080
    # Send cookies only over HTTPS. Off by default because the office server is
    # usually reached over plain HTTP on the LAN; turn on behind a TLS proxy.
    secure_cookies: bool = False
    # Idle sessions expire after this many hours.
    session_hours: int = 12
    # Dates and times on the pages are shown in this zone.
    timezone: str = "Europe/Rome"
    # Login rate limit: failures allowed per e-mail / per IP within the window.
    login_window_minutes: int = 15
    login_max_failures_per_email: int = 5
    login_max_failures_per_ip: int = 20
    # The web server's worker threads (waitress).
    threads: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"admin.port {self.port} is not a TCP port")
        if self.session_hours < 1:
            raise ValueError("admin.session_hours must be at least 1")
