"""Deployment files (deploy/, docker-compose.yml, .env.example): checked offline, no engine."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
