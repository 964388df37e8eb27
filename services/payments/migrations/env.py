"""Alembic environment of the payments database."""

from services.payments.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
