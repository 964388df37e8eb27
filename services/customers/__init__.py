"""customers: customer records, payment terms and the communication history."""
