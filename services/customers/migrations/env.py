"""Alembic environment of the customers database."""

from services.customers.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
