"""insightd: a self-hosted server that speaks PostHog's Insights API."""

__version__ = "0.1.0"
