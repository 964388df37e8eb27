"""Alembic environment of the reporting database."""

from services.reporting.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
