"""The SQS workers: plain Powertools Lambda handlers (Chalice cannot report batch item failures)."""
