"""Alembic environment of the billing database."""

from services.billing.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
