"""The HTTP layer: thin routes over ``insightd.services``."""
