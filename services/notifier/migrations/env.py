"""Alembic environment of the notifier database."""

from services.notifier.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
