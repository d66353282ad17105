"""Secrets: how a BGP password is replaced by a salted digest, and how that is displayed.

The public form of any text carries ``(sensitive:<digest>)`` in place of a secret, so two
public forms still differ when the secret changes (the plan sees the change) without
revealing it. What a person sees is only ``(sensitive)``.
"""

from __future__ import annotations

import hashlib
import re

DIGEST_LENGTH = 16
MARKER_RE = re.compile(r"\(sensitive:[0-9a-f]+\)")


def marker(secret: str, salt: str) -> str:
    """The public stand-in of ``secret``: stable for one salt, useless to guess from."""
    digest = hashlib.sha256(f"{salt}\0{secret}".encode()).hexdigest()[:DIGEST_LENGTH]
    return f"(sensitive:{digest})"


def for_display(text: str) -> str:
    """Public text as shown to people: digests hidden too."""
    return MARKER_RE.sub("(sensitive)", text)
