"""Running queries: execution modes, cache keys, the result cache and the query service."""
