"""Secrets out of logs: URLs with the password and credential-like query values masked."""

from __future__ import annotations

import re

_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|auth|sig|cred", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The url with its password and credential-like query values replaced by ***, for logs and errors.

    The last '@' before the query ends the user info, so a password holding '/' or '@' is masked too.

    >>> redact_url("rtsp://admin:pa/ss@10.0.0.5/main")
    'rtsp://admin:***@10.0.0.5/main'
    >>> redact_url("http://cam/video.cgi?user=admin&pwd=secret&res=hd")
    'http://cam/video.cgi?user=admin&pwd=***&res=hd'
    >>> redact_url("gate.mp4")
    'gate.mp4'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    head, qmark, query = rest.partition("?")
    user_info, at, after = head.rpartition("@")
    if at:
        head = f"{user_info.split(':', 1)[0]}:***@{after}"
    if qmark:
        pairs = []
        for pair in query.split("&"):
            key, eq, _ = pair.partition("=")
            pairs.append(f"{key}=***" if eq and _SECRET_KEY.search(key) else pair)
        query = "&".join(pairs)
    return f"{scheme}://{head}{qmark}{query}"
