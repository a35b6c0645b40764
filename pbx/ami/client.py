"""AMI through panoramisk: health (CoreStatus), Originate, hang-up causes.

panoramisk reconnects by itself (every ``reconnect_timeout`` seconds) after
Asterisk restarts; :meth:`AmiClient.connect` waits for the login to succeed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager

from pbx.settings import AmiSettings

log = logging.getLogger(__name__)


class AmiError(RuntimeError):
    pass


@dataclass(frozen=True)
class HangupInfo:
    channel: str
    uniqueid: str
    cause: int
    cause_txt: str


class _QuietLog(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """panoramisk logs a lost connection (an Asterisk restart) as ERROR; it is expected."""

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.warning(msg, *args, **kwargs)


class AmiClient:
    def __init__(self, settings: AmiSettings, keep_hangups: int = 500) -> None:
        if not settings.user or not settings.secret:
            raise AmiError("AMI user and secret must be set (no default credentials)")
        self.settings = settings
        self.logged_in = asyncio.Event()
        self.hangups: OrderedDict[str, HangupInfo] = OrderedDict()
        self._keep = keep_hangups
        self.manager = Manager(
            host=settings.host,
            port=settings.port,
            username=settings.user,
            secret=settings.secret,
            ping_delay=10,
            reconnect_timeout=1,
            log=_QuietLog(logging.getLogger("pbx.ami.panoramisk"), {}),
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        self.manager.register_event("Hangup", self._on_hangup)

    def _on_login(self, manager: Manager) -> None:
        log.info("AMI logged in at %s:%d", self.settings.host, self.settings.port)
        self.logged_in.set()

    def _on_disconnect(self, manager: Manager, exc: Exception | None) -> None:
        self.logged_in.clear()

    def _on_hangup(self, manager: Manager, event: Any) -> None:
        try:
            cause = int(event.get("Cause", 0) or 0)
        except ValueError:
            cause = 0
        info = HangupInfo(
            channel=str(event.get("Channel", "")),
            uniqueid=str(event.get("Uniqueid", "")),
            cause=cause,
            cause_txt=str(event.get("Cause-txt", "")),
        )
        self.hangups[info.uniqueid] = info
        while len(self.hangups) > self._keep:
            self.hangups.popitem(last=False)
        log.debug("hangup %s cause=%d (%s)", info.channel, info.cause, info.cause_txt)

    async def connect(self, timeout_s: float = 10.0) -> None:
        self.manager.connect()
        try:
            await asyncio.wait_for(self.logged_in.wait(), timeout_s)
        except TimeoutError:
            self.manager.close()
            raise AmiError(
                f"AMI login to {self.settings.host}:{self.settings.port} failed or timed out"
            ) from None

    def close(self) -> None:
        self.manager.close()
        # Stop panoramisk's scheduled reconnects too.
        self.manager.connection_lost = lambda exc: None

    async def action(self, action: dict[str, Any], timeout_s: float = 10.0) -> Any:
        if not self.logged_in.is_set():
            raise AmiError("AMI not connected")
        result = self.manager.send_action(action)
        try:
            return await asyncio.wait_for(result, timeout_s)
        except TimeoutError:
            raise AmiError(f"AMI action {action.get('Action')} timed out") from None

    async def core_status(self) -> dict[str, str]:
        """Asterisk's CoreStatus (startup time, current calls): the health check."""
        resp = await self.action({"Action": "CoreStatus"})
        if not getattr(resp, "success", False):
            raise AmiError(f"CoreStatus failed: {dict(resp)}")
        return {str(k): str(v) for k, v in resp.items()}

    async def originate(
        self,
        channel: str,
        *,
        context: str = "",
        exten: str = "",
        priority: int = 1,
        application: str = "",
        data: str = "",
        caller_id: str = "",
        variables: dict[str, str] | None = None,
        timeout_s: int = 30,
    ) -> dict[str, str]:
        """Place a call (demo and test calls): connect ``channel`` to a dialplan
        extension (context/exten) or to an application. Returns once queued."""
        if bool(application) == bool(context and exten):
            raise AmiError("originate needs either context+exten or application")
        action: dict[str, Any] = {
            "Action": "Originate",
            "Channel": channel,
            "Timeout": str(timeout_s * 1000),
            "Async": "true",
        }
        if application:
            action.update(Application=application, Data=data)
        else:
            action.update(Context=context, Exten=exten, Priority=str(priority))
        if caller_id:
            action["CallerID"] = caller_id
        if variables:
            action["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        # Async originate answers "successfully queued", then an OriginateResponse
        # event once the channel answered or failed; panoramisk returns both.
        resp = await self.action(action, timeout_s=timeout_s + 5)
        messages = list(resp) if isinstance(resp, list) else [resp]
        final = {str(k): str(v) for k, v in dict(messages[-1]).items()}
        ok = all(str(m.get("Response", "")).lower() == "success" for m in messages)
        if not ok:
            raise AmiError(f"Originate {channel} failed: {final}")
        return final
