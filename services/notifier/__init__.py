"""notifier: invoice emails, receipts, partial-payment notices and reminders."""
