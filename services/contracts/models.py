"""The contracts database: the item catalog, tax rates, contracts, and a customers replica."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Integer, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, platform_tables
from shared.replicas import customer_replica_table


class Base(DeclarativeBase):
    metadata = new_metadata()


platform = platform_tables(Base.metadata)
customer_replica = customer_replica_table(Base.metadata)


class Item(Base):
    __tablename__ = "items"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_price_fixed: Mapped[int] = mapped_column(BigInteger)  # 1/10,000 (domain.PRICE_PLACES)
    currency: Mapped[str] = mapped_column(String(3))
    tax_code: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class TaxRate(Base):
    __tablename__ = "tax_rates"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    rate_fixed: Mapped[int] = mapped_column(Integer)  # 1/100 percent (domain.PERCENT_PLACES)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    discount_fixed: Mapped[int] = mapped_column(Integer)  # 1/100 percent
    tax_treatment: Mapped[dict[str, Any]] = mapped_column(JSON)  # {type, rate (str), note}
    prices: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{sku, unit_price (str)}]
    status: Mapped[str] = mapped_column(String(20))
    terminated_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
