"""The contracts database. Business tables arrive with the contracts issue; for now the platform
tables and the customers replica this service keeps from customers.customer.* events."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata, platform_tables
from shared.replicas import customer_replica_table


class Base(DeclarativeBase):
    metadata = new_metadata()


platform = platform_tables(Base.metadata)
customer_replica = customer_replica_table(Base.metadata)
