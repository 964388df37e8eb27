"""Reporting rules with no I/O: the revenue and payment-behaviour figures of a row from
the amounts and days the queries gathered (minor units, whole days)."""

from __future__ import annotations

from typing import Any

REVENUE_FIGURES = (
    "invoiced",
    "credited",
    "net_revenue",
    "tax",
    "invoiced_gross",
    "credited_tax",
    "credited_gross",
    "collected",
    "refunded",
)


def revenue_figures(
    *,
    invoiced: int,
    invoiced_tax: int,
    credited_gross: int,
    credited_tax: int,
    received: int,
    refunded: int,
) -> dict[str, int]:
    """Every revenue figure on one basis from what was invoiced (net and tax), credited
    (gross and tax), received (payments less reversals) and refunded, in minor units."""
    credited = credited_gross - credited_tax
    return {
        "invoiced": invoiced,
        "credited": credited,
        "net_revenue": invoiced - credited,
        "tax": invoiced_tax - credited_tax,
        "invoiced_gross": invoiced + invoiced_tax,
        "credited_tax": credited_tax,
        "credited_gross": credited_gross,
        "collected": received - refunded,
        "refunded": refunded,
    }


def behaviour_figures(row: dict[str, Any], days: int) -> dict[str, Any]:
    """The payment-behaviour figures of one row (a customer, or all of them) over a period
    of ``days``."""
    days_to_pay, days_late = row["days_to_pay"], row["days_late"]
    paid = len(days_to_pay)
    return {
        "invoices_paid": paid,
        "avg_days_to_pay": round(sum(days_to_pay) / paid, 1) if paid else None,
        "avg_days_late": round(sum(days_late) / paid, 1) if paid else None,
        "on_time_rate": round(sum(1 for d in days_late if d == 0) / paid, 4) if paid else None,
        "partial_payments": len(row["partial"]),
        "open_overdue": row["open_overdue"],
        "dso": round(row["open"] / row["invoiced"] * days, 1) if row["invoiced"] else None,
    }
