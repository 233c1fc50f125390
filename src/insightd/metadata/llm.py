"""The optional LLM generator: any OpenAI-compatible chat-completions endpoint.

Only the naming summary (:meth:`QuerySummary.text`) is sent — never the raw query JSON and never
event data. The prompt follows PostHog's naming rules; the reply must be a JSON object with a
``name`` and a ``description``. Every failure raises :class:`LLMFailed` so the caller can fall back.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from insightd.metadata.offline import Metadata

SYSTEM_MESSAGE = (
    "You write names and descriptions for product analytics insights. "
    'Answer with one JSON object with the keys "name" and "description" and nothing else.'
)

# Per-kind guidance, in our words, following the rules PostHog gives its model.
GUIDANCE = {
    "TrendsQuery": (
        "A TRENDS insight plots one or more metrics over time. With one series, name the metric "
        "('Daily Pageviews', 'Weekly Active Users'); with two to six, list them with commas and 'and'; "
        "with more, name the first and add 'and Other Key Metrics'. Mention a notable aggregation "
        "(unique users, averages) naturally."
    ),
    "FunnelsQuery": (
        "A FUNNEL insight measures conversion through ordered steps. Put arrows between the steps "
        "('Signup → Purchase Conversion'); with four or more steps use only the first and last. "
        "Never use 'vs'. End with 'Conversion' or 'Funnel'."
    ),
    "RetentionQuery": (
        "A RETENTION insight shows how many users come back after a first event. Leave out internal "
        "details. Lead with a non-default period ('Weekly Retention after Signup'); when the start "
        "and return events differ, name both ('Retention: Signup → Feature Use')."
    ),
    "StickinessQuery": (
        "A STICKINESS insight counts on how many days or weeks users did an event: "
        "'Dashboard Stickiness', 'Feature Use Frequency'."
    ),
    "LifecycleQuery": (
        "A LIFECYCLE insight splits users into new, returning, resurrecting and dormant. Name the "
        "event: 'Pageview Lifecycle'."
    ),
    "PathsQuery": (
        "A PATHS insight shows the sequences of pages, screens or events users follow. Say 'Page' for "
        "$pageview, 'Screen' for $screen and 'Event' for custom events, joined with '&' "
        "('Page & Screen Paths'). Shorten a URL start or end point to its meaningful segment "
        "('Page Paths from Insights')."
    ),
    "EventsQuery": (
        "An EVENTS table lists raw events. Lead with the humanised event ('Events' when there is none), "
        "then the time window ('in the Last Hour') and filters ('on Chrome', a cohort in parentheses): "
        "'Pageviews in the Last Hour on Chrome'."
    ),
    "ActorsQuery": (
        "An ACTORS table lists persons, groups or sessions. Start with the actor type: 'Persons Who "
        "Performed Pageviews', 'Sessions with Pageviews'; lead with a lifecycle status "
        "('Resurrecting Persons on Pageviews'); include a funnel step ('Persons Who Dropped Off at "
        "Step 3: Signup → Purchase'). The description says which actors are listed and why."
    ),
    "GroupsQuery": (
        "A GROUPS table lists group entities. Lead with the group type, then filters or the search "
        "term: 'Accounts on Enterprise Plan', 'Organizations Matching \"Acme\"'."
    ),
    "HogQLQuery": (
        "A SQL insight. Name it after what the SELECT computes (its measures, time bucket and "
        "grouping), not after the SQL itself: 'Daily Unique Users by Browser'."
    ),
}

RULES = (
    "Rules for the name:\n"
    "- Title Case.\n"
    "- 3 to 12 words, enough to cover every series and breakdown.\n"
    "- Humanise event names: '$pageview' becomes 'Pageviews', 'user_signed_up' becomes 'Signups'.\n"
    "- Say 'by <dimension>' only when there is a breakdown; join several with 'and' ('by Browser and OS').\n"
    "- No filler words such as 'count', 'total', 'events', 'data' or 'trend'.\n"
    "- Leave out the aggregation when it is the default total count.\n\n"
    "Rules for the description:\n"
    "- One short sentence saying what the insight measures.\n"
    "- Plain language, no jargon."
)


class LLMFailed(Exception):
    """The endpoint could not be reached, was too slow, or did not answer as asked."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str | None
    timeout: float

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def build_prompt(summary_text: str, kind: str) -> str:
    guidance = GUIDANCE.get(kind, "")
    return (
        "Name and describe this product analytics insight for a dashboard, so that a teammate "
        "understands at a glance what it tracks.\n\n"
        f"{guidance}\n\n{RULES}\n\n"
        f"Query:\n{summary_text}\n\n"
        'Return ONLY a JSON object: {"name": "...", "description": "..."}'
    )


def build_messages(summary_text: str, kind: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_MESSAGE},
        {"role": "user", "content": build_prompt(summary_text, kind)},
    ]


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse_reply(content: str) -> Metadata:
    """The model's JSON answer → :class:`Metadata` (code fences tolerated); raises :class:`LLMFailed`."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        parsed: Any = json.loads(text)
    except ValueError as exc:
        raise LLMFailed("the reply is not JSON") from exc
    if not isinstance(parsed, dict):
        raise LLMFailed("the reply is not a JSON object")
    name, description = parsed.get("name"), parsed.get("description")
    if not isinstance(name, str) or not isinstance(description, str):
        raise LLMFailed("the reply lacks a string name or description")
    name = name.strip().strip('"').strip("'").strip()
    if not name:
        raise LLMFailed("the reply has an empty name")
    return Metadata(name=name, description=description.strip())


def _content(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMFailed("the reply is not a chat completion") from exc
    if not isinstance(content, str):
        raise LLMFailed("the completion has no text")
    return content


async def request_metadata(config: LLMConfig, summary_text: str, kind: str) -> Metadata:
    """Ask the endpoint for a name and description; the whole exchange is bounded by the timeout."""
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    payload = {"model": config.model, "temperature": 0, "messages": build_messages(summary_text, kind)}
    try:
        async with asyncio.timeout(config.timeout):
            async with httpx.AsyncClient(timeout=config.timeout) as client:
                response = await client.post(config.url, json=payload, headers=headers)
                if response.status_code != 200:
                    raise LLMFailed(f"the endpoint answered HTTP {response.status_code}")
                body = response.json()
    except TimeoutError as exc:
        raise LLMFailed(f"no answer within {config.timeout:g} s") from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise LLMFailed(f"the endpoint failed: {type(exc).__name__}") from exc
    return parse_reply(_content(body))
