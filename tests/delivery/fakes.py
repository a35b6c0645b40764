"""Local stand-ins for the providers we cannot reach from tests.

Each fake is a real HTTP server (aiohttp, on 127.0.0.1, in a background thread
so subprocess dispatchers can reach it too) implementing the provider's
documented endpoint: it checks the path, the auth header and the required JSON
fields, and answers with the provider's documented success and error bodies
(400/401/429/500). Tests queue failures with :meth:`FakeServer.fail_next` and
read what was received in ``requests``.

The SMTP stand-in is aiosmtpd (a real SMTP server) with STARTTLS and AUTH.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from centralino.delivery.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    raw: bytes
    status: int = 0
    at: float = field(default_factory=time.time)


REC = web.RequestKey("rec", Received)


@dataclass
class Failure:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    # Only requests whose path contains this fail (e.g. not the OAuth token call).
    path: str = ""


class FakeServer:
    """An aiohttp app served from a background thread."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.failures: list[Failure] = []
        self.lock = threading.Lock()
        # Called after a request was processed (its effect is recorded) and before
        # the answer is sent: the crash test kills the dispatcher here.
        self.after_effect: Callable[[Received], None] | None = None
        self.delay_s = 0.0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    # -- lifecycle --------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> FakeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._record])
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour ------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        count: int = 1,
        path: str = "",
    ) -> None:
        with self.lock:
            self.failures.extend(Failure(status, body, headers or {}, path) for _ in range(count))

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        body: Any
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
        elif request.content_type == "application/x-www-form-urlencoded":
            body = dict(await request.post())
        else:
            body = raw.decode("utf-8", "replace")
        rec = Received(
            request.method, request.path, dict(request.headers), dict(request.query), body, raw
        )
        request[REC] = rec
        with self.lock:
            self.requests.append(rec)
            failure = next((f for f in self.failures if f.path in request.path), None)
            if failure is not None:
                self.failures.remove(failure)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if failure is not None:
            rec.status = failure.status
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        resp = await handler(request)
        rec.status = resp.status
        if self.after_effect is not None and 200 <= resp.status < 300:
            await asyncio.to_thread(self.after_effect, rec)
        return resp  # type: ignore[no-any-return]


def _json_error(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


# ---------------------------------------------------------------------------
# WhatsApp Cloud API
# ---------------------------------------------------------------------------


def wa_error(
    code: int, message: str, details: str = "", type_: str = "OAuthException"
) -> dict[str, Any]:
    """The Graph API error envelope documented for the Cloud API."""
    err: dict[str, Any] = {
        "message": message,
        "type": type_,
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if details:
        err["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": err}


WA_500 = wa_error(131000, "(#131000) Something went wrong", "Something went wrong")
WA_429 = wa_error(
    130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."
)
WA_401 = wa_error(190, "Error validating access token: Session has expired on Friday, 27-Nov-26.")


class WhatsAppFake(FakeServer):
    """WhatsApp Cloud API: ``POST /{version}/{phone-number-id}/messages``, template messages."""

    def __init__(self, token: str = "EAAtest-token", phone_number_id: str = "109876543210") -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.messages: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{phone_id}/messages", self.send)

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json_error(401, WA_401)
        if request.match_info["phone_id"] != self.phone_number_id:
            return _json_error(
                400, wa_error(100, "(#100) Invalid parameter", "Unknown phone number id")
            )
        body = request[REC].body
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _json_error(
                400, wa_error(100, "(#100) Invalid parameter", "messaging_product must be whatsapp")
            )
        to = str(body.get("to", ""))
        tpl = body.get("template") or {}
        if not to.isdigit() or body.get("type") != "template" or not tpl.get("name"):
            return _json_error(
                400, wa_error(131008, "(#131008) Required parameter is missing", "to/type/template")
            )
        if not (tpl.get("language") or {}).get("code"):
            return _json_error(
                400,
                wa_error(
                    131008, "(#131008) Required parameter is missing", "template.language.code"
                ),
            )
        for comp in tpl.get("components", []):
            for p in comp.get("parameters", []):
                text = p.get("text", "")
                if (
                    p.get("type") != "text"
                    or not text
                    or "\n" in text
                    or "\t" in text
                    or "    " in text
                ):
                    return _json_error(
                        400,
                        wa_error(
                            132000,
                            "(#132000) Number of parameters does not match"
                            " the expected number of params",
                            "bad parameter",
                        ),
                    )
        wamid = "wamid.HBgM" + uuid.uuid4().hex.upper()
        with self.lock:
            self.messages.append(body)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            }
        )


# ---------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------

SF_INVALID_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}
SF_INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


class SalesforceFake(FakeServer):
    """Salesforce OAuth2 token endpoint + REST sObject Lead (create and upsert by external id)."""

    def __init__(
        self,
        client_id: str = "3MVG9-client",
        client_secret: str = "sf-secret",
        refresh_token: str = "",
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.refresh_token = (
            client_id,
            client_secret,
            refresh_token,
        )
        self.tokens: set[str] = set()
        self.leads: dict[str, dict[str, Any]] = {}  # record id -> fields
        self.by_external: dict[str, str] = {}
        self.upserts = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/services/oauth2/token", self.token)
        app.router.add_patch("/services/data/{version}/sobjects/Lead/{field}/{value}", self.upsert)
        app.router.add_post("/services/data/{version}/sobjects/Lead/", self.create)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    async def token(self, request: web.Request) -> web.Response:
        form = request[REC].body or {}
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return _json_error(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return _json_error(400, SF_INVALID_CLIENT)
        if grant == "refresh_token" and form.get("refresh_token") != self.refresh_token:
            return _json_error(
                400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
            )
        tok = "00D" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(tok)
        return web.json_response(
            {
                "access_token": tok,
                "instance_url": self.url,
                "id": f"{self.url}/id/00Dxx0000001gPL/005xx000001Sv6e",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": "d9Gx0Ek2...",
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def _check(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict):
            return _json_error(
                400, [{"message": "JSON body expected", "errorCode": "JSON_PARSER_ERROR"}]
            )
        missing = [f for f in ("LastName", "Company") if not body.get(f)]
        if missing:
            return _json_error(
                400,
                [
                    {
                        "message": f"Required fields are missing: [{', '.join(missing)}]",
                        "errorCode": "REQUIRED_FIELD_MISSING",
                        "fields": missing,
                    }
                ],
            )
        return None

    async def upsert(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json_error(401, SF_INVALID_SESSION)
        body = request[REC].body
        bad = self._check(body)
        if bad is not None:
            return bad
        key = request.match_info["value"]
        with self.lock:
            self.upserts += 1
            rid = self.by_external.get(key)
            created = rid is None
            if rid is None:
                rid = "00Q" + uuid.uuid4().hex[:15]
                self.by_external[key] = rid
            self.leads[rid] = {**body, request.match_info["field"]: key}
        return web.json_response(
            {"id": rid, "success": True, "errors": [], "created": created},
            status=201 if created else 200,
        )

    async def create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json_error(401, SF_INVALID_SESSION)
        body = request[REC].body
        bad = self._check(body)
        if bad is not None:
            return bad
        rid = "00Q" + uuid.uuid4().hex[:15]
        with self.lock:
            self.leads[rid] = body
        return web.json_response({"id": rid, "success": True, "errors": []}, status=201)


# ---------------------------------------------------------------------------
# HubSpot
# ---------------------------------------------------------------------------

HS_401 = {
    "status": "error",
    "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication"
    " and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    "correlationId": "c0ffee00-0000-4000-8000-000000000001",
    "category": "INVALID_AUTHENTICATION",
}
HS_429 = {
    "status": "error",
    "message": "You have reached your secondly limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c0ffee00-0000-4000-8000-000000000002",
    "policyName": "SECONDLY",
}


class HubSpotFake(FakeServer):
    """HubSpot CRM v3: contacts search/create/update, deals search/create; private-app token."""

    def __init__(self, token: str = "pat-eu1-test") -> None:
        super().__init__()
        self.token = token
        self.contacts: dict[str, dict[str, Any]] = {}
        self.deals: dict[str, dict[str, Any]] = {}
        self._next = 500

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/crm/v3/objects/{obj}/search", self.search)
        app.router.add_post("/crm/v3/objects/{obj}", self.create)
        app.router.add_patch("/crm/v3/objects/contacts/{id}", self.update)

    def _auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json_error(401, HS_401)
        return None

    def _store(self, obj: str) -> dict[str, dict[str, Any]]:
        return self.contacts if obj == "contacts" else self.deals

    async def search(self, request: web.Request) -> web.Response:
        if (bad := self._auth(request)) is not None:
            return bad
        body = request[REC].body or {}
        groups = body.get("filterGroups")
        if not isinstance(groups, list) or not groups:
            return _json_error(
                400,
                {
                    "status": "error",
                    "message": "filterGroups is required",
                    "category": "VALIDATION_ERROR",
                },
            )
        store = self._store(request.match_info["obj"])
        hits = []
        with self.lock:
            for rid, props in store.items():
                for g in groups:
                    if all(
                        props.get(f["propertyName"]) == f["value"] and f["operator"] == "EQ"
                        for f in g["filters"]
                    ):
                        hits.append({"id": rid, "properties": props, "archived": False})
                        break
        return web.json_response({"total": len(hits), "results": hits[: body.get("limit", 10)]})

    async def create(self, request: web.Request) -> web.Response:
        if (bad := self._auth(request)) is not None:
            return bad
        obj = request.match_info["obj"]
        body = request[REC].body or {}
        props = body.get("properties")
        if obj not in ("contacts", "deals") or not isinstance(props, dict):
            return _json_error(
                400,
                {
                    "status": "error",
                    "message": "Invalid input JSON: properties",
                    "category": "VALIDATION_ERROR",
                },
            )
        if obj == "deals":
            if not props.get("dealname") or not props.get("dealstage"):
                return _json_error(
                    400,
                    {
                        "status": "error",
                        "message": "Property values were not valid: dealname/dealstage",
                        "category": "VALIDATION_ERROR",
                    },
                )
            assoc = body.get("associations") or []
            if (
                not assoc
                or assoc[0]["types"][0]["associationTypeId"] != 3
                or assoc[0]["to"]["id"] not in self.contacts
            ):
                return _json_error(
                    400,
                    {
                        "status": "error",
                        "message": "invalid association",
                        "category": "VALIDATION_ERROR",
                    },
                )
        with self.lock:
            self._next += 1
            rid = str(self._next)
            self._store(obj)[rid] = dict(props)
        now = "2026-11-28T02:00:00.000Z"
        return web.json_response(
            {"id": rid, "properties": props, "createdAt": now, "updatedAt": now, "archived": False},
            status=201,
        )

    async def update(self, request: web.Request) -> web.Response:
        if (bad := self._auth(request)) is not None:
            return bad
        rid = request.match_info["id"]
        props = (request[REC].body or {}).get("properties")
        with self.lock:
            if rid not in self.contacts:
                return _json_error(
                    404,
                    {
                        "status": "error",
                        "message": "resource not found",
                        "category": "OBJECT_NOT_FOUND",
                    },
                )
            self.contacts[rid].update(props or {})
        return web.json_response({"id": rid, "properties": self.contacts[rid], "archived": False})


# ---------------------------------------------------------------------------
# Pipedrive
# ---------------------------------------------------------------------------

PD_401 = {
    "success": False,
    "error": "unauthorized access",
    "errorCode": 401,
    "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
}


class PipedriveFake(FakeServer):
    """Pipedrive API v1: persons, leads, notes; ``api_token`` query parameter."""

    def __init__(self, api_token: str = "pd-token-123") -> None:
        super().__init__()
        self.api_token = api_token
        self.persons: dict[int, dict[str, Any]] = {}
        self.leads: dict[str, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/persons", self.person)
        app.router.add_post("/v1/leads", self.lead)
        app.router.add_post("/v1/notes", self.note)

    def _auth(self, request: web.Request) -> web.Response | None:
        if request.query.get("api_token") != self.api_token:
            return _json_error(401, PD_401)
        return None

    async def person(self, request: web.Request) -> web.Response:
        if (bad := self._auth(request)) is not None:
            return bad
        body = request[REC].body or {}
        if not body.get("name"):
            return _json_error(
                400,
                {
                    "success": False,
                    "error": "Name must be given.",
                    "error_info": "Please check developers.pipedrive.com",
                },
            )
        with self.lock:
            pid = len(self.persons) + 1
            self.persons[pid] = body
        return web.json_response({"success": True, "data": {"id": pid, **body}}, status=201)

    async def lead(self, request: web.Request) -> web.Response:
        if (bad := self._auth(request)) is not None:
            return bad
        body = request[REC].body or {}
        if not body.get("title") or body.get("person_id") not in self.persons:
            return _json_error(
                400,
                {
                    "success": False,
                    "error": "A lead must be linked to a person or an organization.",
                    "error_info": "Please check developers.pipedrive.com",
                },
            )
        value = body.get("value")
        if value is not None and not (
            isinstance(value, dict)
            and isinstance(value.get("amount"), int | float)
            and value.get("currency")
        ):
            return _json_error(
                400,
                {
                    "success": False,
                    "error": "value must be an object with amount and currency",
                    "error_info": "",
                },
            )
        lid = str(uuid.uuid4())
        with self.lock:
            self.leads[lid] = body
        return web.json_response({"success": True, "data": {"id": lid, **body}}, status=201)

    async def note(self, request: web.Request) -> web.Response:
        if (bad := self._auth(request)) is not None:
            return bad
        body = request[REC].body or {}
        if not body.get("content") or body.get("lead_id") not in self.leads:
            return _json_error(
                400,
                {
                    "success": False,
                    "error": "Note must have content and a lead, deal, person or organization.",
                    "error_info": "",
                },
            )
        with self.lock:
            self.notes.append(body)
        return web.json_response(
            {"success": True, "data": {"id": len(self.notes), **body}}, status=201
        )


# ---------------------------------------------------------------------------
# Webhook receiver (our own documented protocol)
# ---------------------------------------------------------------------------


class WebhookReceiver(FakeServer):
    """A receiver following docs/delivery.md: checks the HMAC, dedupes on Idempotency-Key."""

    def __init__(self, secret: str = "whsec-test") -> None:
        super().__init__()
        self.secret = secret
        self.processed: dict[str, dict[str, Any]] = {}
        self.replays = 0
        self.in_flight: dict[str, int] = {}
        self.overlaps = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self.hook)

    async def hook(self, request: web.Request) -> web.Response:
        rec: Received = request[REC]
        if not verify(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            rec.raw,
            request.headers.get(SIGNATURE_HEADER, ""),
        ):
            return web.json_response({"error": "invalid signature"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        if not key or not isinstance(rec.body, dict) or "lead" not in rec.body:
            return web.json_response({"error": "Idempotency-Key and lead required"}, status=400)
        with self.lock:
            if self.in_flight.get(key):
                self.overlaps += 1
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            with self.lock:
                if key in self.processed:
                    self.replays += 1
                    return web.json_response({"ok": True}, headers={"Idempotent-Replayed": "true"})
                self.processed[key] = rec.body
        finally:
            with self.lock:
                self.in_flight[key] -= 1
        return web.json_response({"ok": True}, headers={"X-Request-Id": uuid.uuid4().hex})


# ---------------------------------------------------------------------------
# SMTP (aiosmtpd) with STARTTLS and AUTH
# ---------------------------------------------------------------------------


def make_tls_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI); also the client's CA file."""
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    if not cert.exists():
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )
    return cert, key


class _Handler:
    def __init__(self, sink: list[EmailMessage]) -> None:
        self.sink = sink
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        self.sink.append(msg)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpFake:
    """aiosmtpd requiring STARTTLS and AUTH; can be stopped and restarted on the same port."""

    def __init__(self, folder: Path, user: str = "centralino", password: str = "smtp-pass") -> None:
        import socket
        import ssl

        self.user, self.password = user, password
        cert, key = make_tls_cert(folder)
        self.ca_file = cert
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.messages: list[EmailMessage] = []
        self.handler = _Handler(self.messages)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller: Controller | None = None

    def _auth(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpFake:
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=self.context,
            require_starttls=True,
            authenticator=self._auth,
            auth_required=True,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
