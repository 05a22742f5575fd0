"""The Lambda workers fed by SQS (dialer; later extraction and webhook delivery): plain Powertools
handlers, because Chalice cannot report SQS batch item failures."""
