"""What the customers service's events carry, built from its rows with no I/O: each payload
is written once, here, and the commands only decide when to emit it."""

from __future__ import annotations

from typing import Any

from services.customers.models import Customer, Interaction
from shared.money import from_minor


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """The whole customer: customers.customer.created / .updated, and the API's answer."""
    return {
        "id": str(customer.id),
        "number": customer.number,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "billing_address": customer.billing_address,
        "payment_terms": customer.payment_terms,
        "currency": customer.currency,
        "tax_id": customer.tax_id,
        "credit_limit": None
        if customer.credit_limit_minor is None
        else from_minor(customer.credit_limit_minor, customer.currency),
        "reminders_enabled": customer.reminders_enabled,
        "language": customer.language,
        "notes": customer.notes,
        "status": customer.status,
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def customer_archived(customer: Customer) -> dict[str, Any]:
    """customers.customer.archived: which customer, and its snapshot after archiving."""
    snapshot = customer_snapshot(customer)
    return {"customer_id": snapshot["id"], "customer": snapshot}


def interaction_logged(interaction: Interaction) -> dict[str, Any]:
    """customers.interaction.logged: the interaction (also the API's answer)."""
    return {
        "id": str(interaction.id),
        "customer_id": str(interaction.customer_id),
        "channel": interaction.channel,
        "direction": interaction.direction,
        "subject": interaction.subject,
        "body": interaction.body,
        "invoice_id": interaction.invoice_id,
        "occurred_at": interaction.occurred_at,
        "source": interaction.source,
        "author": interaction.author,
    }
