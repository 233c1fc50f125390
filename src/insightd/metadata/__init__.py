"""Names and descriptions for insights (``generate_metadata`` and ``derived_name``).

``summary`` reads a query into PostHog's naming summary; ``offline`` turns it into a name and a
description without any network; ``llm`` asks an OpenAI-compatible endpoint instead; ``service``
chooses between them.
"""
