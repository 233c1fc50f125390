"""Query nodes, date ranges, filters and one runner per query kind."""
