"""Phone number normalisation (E.164) for DIDs and caller ids."""

from __future__ import annotations

import re

_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


class InvalidPhoneNumber(ValueError):
    pass


def normalize_e164(raw: str, default_country: str = "39") -> str:
    """Return ``raw`` as E.164 or raise :class:`InvalidPhoneNumber`.

    Accepts "+39 02 1234 5678", "0039021234567", and Italian national numbers
    ("02 1234567", "333 1234567") which get the default country code. Trunks
    deliver all three shapes in the To/Request-URI depending on the provider.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    compact = re.sub(r"[\s\-().]", "", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif not compact.startswith("+"):
        if not compact.isdigit():
            raise InvalidPhoneNumber(f"{raw!r} is not a phone number")
        compact = "+" + default_country + compact
    if not _E164.match(compact):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid E.164 number (e.g. +390212345678)")
    return compact


def is_e164(value: str) -> bool:
    return bool(_E164.match(value or ""))
