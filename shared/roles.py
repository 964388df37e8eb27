"""The roles a caller may have, lowest first: each may do what the ones before it may."""

from __future__ import annotations

ROLES = ("viewer", "clerk", "admin")
