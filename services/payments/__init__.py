"""payments: payments received, reversals and refunds, recorded idempotently."""
