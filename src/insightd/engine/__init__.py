"""Analytical engines that speak ClickHouse SQL: chDB in process, a ClickHouse server for scale-out."""
