"""The event store: tables, ingestion and persons."""
