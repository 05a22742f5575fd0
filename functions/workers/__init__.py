"""The Lambda workers (dialer, extraction, webhook delivery, sweeper): plain Powertools handlers,
because Chalice cannot report SQS batch item failures or run on a custom schedule of ours."""
