"""billing: invoices, credit notes, the customer account ledger, payment application."""
