"""Asterisk Manager Interface (health, originate, hang-up causes)."""

from pbx.ami.client import AmiClient, AmiError, HangupInfo

__all__ = ["AmiClient", "AmiError", "HangupInfo"]
