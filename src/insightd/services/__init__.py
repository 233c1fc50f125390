"""Use cases over the metadata store. Services raise ``insightd.errors``; they know nothing of HTTP."""
