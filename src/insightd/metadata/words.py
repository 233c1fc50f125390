"""Words people use for events, properties, intervals and date ranges.

Everything here is pure and table-driven: ``$pageview`` → "Pageviews", ``user_signed_up`` →
"Signups", ``$geoip_country_code`` → "Country", ``-7d`` → "the Last 7 Days".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "per",
        "with",
        "from",
        "vs",
        "via",
        "as",
        "into",
        "over",
        "after",
        "before",
    ]
)
ACRONYMS = {
    "api": "API",
    "url": "URL",
    "urls": "URLs",
    "id": "ID",
    "ids": "IDs",
    "ui": "UI",
    "ai": "AI",
    "sdk": "SDK",
    "csv": "CSV",
    "pdf": "PDF",
    "sql": "SQL",
    "hogql": "HogQL",
    "ios": "iOS",
    "os": "OS",
    "cta": "CTA",
    "faq": "FAQ",
    "seo": "SEO",
    "utm": "UTM",
    "ip": "IP",
    "llm": "LLM",
    "mrr": "MRR",
    "arr": "ARR",
    "nps": "NPS",
    "csat": "CSAT",
    "kpi": "KPI",
    "sso": "SSO",
    "2fa": "2FA",
    "p50": "P50",
    "p75": "P75",
    "p90": "P90",
    "p95": "P95",
    "p99": "P99",
}


@dataclass(frozen=True)
class Label:
    """How to say an event: one of it ("Signup"), many of it ("Signups")."""

    singular: str
    plural: str


# PostHog's own events, as its UI and people say them.
_BUILTIN_EVENTS = {
    "$pageview": Label("Pageview", "Pageviews"),
    "$pageleave": Label("Pageleave", "Pageleaves"),
    "$screen": Label("Screen View", "Screen Views"),
    "$autocapture": Label("Autocaptured Event", "Autocaptured Events"),
    "$rageclick": Label("Rageclick", "Rageclicks"),
    "$dead_click": Label("Dead Click", "Dead Clicks"),
    "$identify": Label("Identify", "Identifies"),
    "$groupidentify": Label("Group Identify", "Group Identifies"),
    "$create_alias": Label("Alias", "Aliases"),
    "$set": Label("Person Update", "Person Updates"),
    "$exception": Label("Exception", "Exceptions"),
    "$web_vitals": Label("Web Vitals Report", "Web Vitals"),
    "$feature_flag_called": Label("Feature Flag Call", "Feature Flag Calls"),
    "$survey_shown": Label("Survey Impression", "Survey Impressions"),
    "$survey_sent": Label("Survey Response", "Survey Responses"),
    "$survey_dismissed": Label("Survey Dismissal", "Survey Dismissals"),
    "$opt_in": Label("Opt-In", "Opt-Ins"),
    "$ai_generation": Label("AI Generation", "AI Generations"),
    "$ai_trace": Label("AI Trace", "AI Traces"),
    "$copy_autocapture": Label("Copy Event", "Copy Events"),
}

# Past-tense verbs (with their particle) and the noun a person would count instead.
_VERB_NOUNS = {
    ("signed", "up"): "Signup",
    ("sign", "up"): "Signup",
    ("logged", "in"): "Login",
    ("log", "in"): "Login",
    ("logged", "out"): "Logout",
    ("log", "out"): "Logout",
    ("signed", "in"): "Sign-In",
    ("signed", "out"): "Sign-Out",
    ("checked", "out"): "Checkout",
    ("purchased",): "Purchase",
    ("subscribed",): "Subscription",
    ("unsubscribed",): "Unsubscribe",
    ("downloaded",): "Download",
    ("uploaded",): "Upload",
    ("installed",): "Install",
    ("uninstalled",): "Uninstall",
    ("viewed",): "View",
    ("clicked",): "Click",
    ("shared",): "Share",
    ("searched",): "Search",
    ("registered",): "Registration",
    ("invited",): "Invite",
    ("activated",): "Activation",
    ("upgraded",): "Upgrade",
    ("downgraded",): "Downgrade",
    ("cancelled",): "Cancellation",
    ("canceled",): "Cancellation",
    ("churned",): "Churn",
    ("submitted",): "Submission",
    ("exported",): "Export",
    ("imported",): "Import",
    ("opened",): "Open",
    ("played",): "Play",
    ("booked",): "Booking",
    ("ordered",): "Order",
    ("paid",): "Payment",
    ("renewed",): "Renewal",
}
_PLURALS = {"Search": "Searches", "Churn": "Churn", "Activity": "Activities", "Entry": "Entries"}
# Single nouns a person would count in the plural ("purchase" → "Purchases").
_COUNTABLE = frozenset(
    [
        "purchase",
        "signup",
        "login",
        "logout",
        "checkout",
        "pageview",
        "click",
        "download",
        "upload",
        "install",
        "subscription",
        "error",
        "crash",
        "order",
        "payment",
        "search",
        "share",
        "view",
        "visit",
        "session",
        "conversion",
        "registration",
        "invite",
        "referral",
        "refund",
        "transaction",
        "booking",
        "message",
        "comment",
        "like",
        "follow",
        "review",
        "rating",
        "request",
        "trial",
        "upgrade",
        "downgrade",
        "cancellation",
        "renewal",
        "activation",
        "impression",
        "submission",
        "export",
        "import",
        "play",
        "open",
    ]
)
_SUBJECT_WORDS = frozenset({"user", "users", "customer", "visitor", "person"})

_PROPERTIES = {
    "$browser": "Browser",
    "$browser_version": "Browser Version",
    "$os": "OS",
    "$os_version": "OS Version",
    "$device_type": "Device Type",
    "$device": "Device",
    "$current_url": "URL",
    "$pathname": "Path",
    "$host": "Host",
    "$screen_name": "Screen",
    "$referrer": "Referrer",
    "$referring_domain": "Referring Domain",
    "$initial_referring_domain": "Initial Referring Domain",
    "$geoip_country_code": "Country",
    "$geoip_country_name": "Country",
    "$geoip_city_name": "City",
    "$geoip_subdivision_1_name": "Region",
    "$geoip_continent_name": "Continent",
    "$lib": "Library",
    "$lib_version": "Library Version",
    "$app_version": "App Version",
    "$session_duration": "Session Duration",
    "$entry_pathname": "Entry Page",
    "$end_pathname": "Exit Page",
    "$entry_current_url": "Entry URL",
    "$channel_type": "Channel",
    "$time_on_page": "Time on Page",
    "$group_0": "Group",
    "distinct_id": "User",
    "person_id": "Person",
    "email": "Email",
}
_UNIT_PLURALS = {
    "second": "Seconds",
    "minute": "Minutes",
    "hour": "Hours",
    "day": "Days",
    "week": "Weeks",
    "month": "Months",
    "year": "Years",
}
INTERVAL_ADJECTIVES = {"hour": "Hourly", "day": "Daily", "week": "Weekly", "month": "Monthly"}
_RELATIVE = re.compile(r"^-(\d+)([hdwmqy])(Start)?$")
_RELATIVE_UNITS = {"h": "hour", "d": "day", "w": "week", "m": "month", "q": "quarter", "y": "year"}
_WORD_SPLIT = re.compile(r"[\s_\-./:]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words_of(identifier: str) -> list[str]:
    """``user_signedUp`` → ``["user", "signed", "up"]``; ``$`` prefixes are dropped."""
    text = _CAMEL.sub(" ", identifier.strip().lstrip("$"))
    return [w for w in _WORD_SPLIT.split(text) if w]


def title_case(text: str) -> str:
    """Title Case with lower-case small words (never the first) and known acronyms."""
    out = []
    for index, word in enumerate(text.split()):
        lower = word.lower()
        if lower in ACRONYMS:
            out.append(ACRONYMS[lower])
        elif index > 0 and lower in SMALL_WORDS:
            out.append(lower)
        elif any(ch.isupper() for ch in word[1:]) or not word[:1].isalpha():
            out.append(word)  # already cased on purpose (iPhone, $pageview, 2024), or a symbol
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def lower_words(text: str) -> str:
    """Lower case for running text, keeping acronyms: "Browser and OS" → "browser and OS"."""
    upper = set(ACRONYMS.values())
    return " ".join(w if w in upper else w.lower() for w in text.split())


def plural(noun: str) -> str:
    last = noun.split()[-1] if noun.split() else noun
    if last in _PLURALS:
        return noun[: len(noun) - len(last)] + _PLURALS[last]
    if last.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def event_label(event: str | None) -> Label:
    """The words for an event: built-ins from PostHog's vocabulary, custom events from their name."""
    if event is None or event == "":
        return Label("Event", "Events")
    if event in _BUILTIN_EVENTS:
        return _BUILTIN_EVENTS[event]
    words = [w.lower() for w in words_of(event)]
    if not words:
        return Label(event, event)
    if len(words) > 1 and words[0] in _SUBJECT_WORDS:
        words = words[1:]
    for size in (2, 1):
        head, tail = tuple(words[:size]), tuple(words[-size:])
        if head in _VERB_NOUNS:  # "uploaded file" → "File Upload"
            noun = _VERB_NOUNS[head]
            rest = title_case(" ".join(words[size:]))
            singular = f"{rest} {noun}".strip()
            return Label(singular, plural(singular))
        if len(words) > size and tail in _VERB_NOUNS:  # "file uploaded" → "File Upload"
            singular = f"{title_case(' '.join(words[:-size]))} {_VERB_NOUNS[tail]}"
            return Label(singular, plural(singular))
    text = title_case(" ".join(words))
    if len(words) == 1 and words[0] in _COUNTABLE:
        return Label(text, plural(text))
    return Label(text, text)


def property_label(key: str) -> str:
    """``$geoip_country_code`` → "Country", ``utm_source`` → "UTM Source", ``properties.plan`` → "Plan"."""
    key = key.strip()
    for prefix in ("properties.", "person.properties.", "session.", "events.properties."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    if key in _PROPERTIES:
        return _PROPERTIES[key]
    words = [w for w in words_of(key) if w.lower() != "geoip"]
    return title_case(" ".join(words)) if words else key


def url_label(value: str) -> str:
    """The meaningful part of a URL or path: ``https://x.com/project/1/insights`` → "Insights Page"."""
    path = urlparse(value).path if "://" in value else value
    segments = [s for s in path.split("/") if s and not s.isdigit() and not re.fullmatch(r"[0-9a-f-]{8,}", s)]
    if not segments:
        return "Home Page"
    return f"{title_case(' '.join(words_of(segments[-1])))} Page"


def join_words(items: list[str], *, oxford: bool = True) -> str:
    """``["A"]`` → "A"; ``["A", "B"]`` → "A and B"; ``["A", "B", "C"]`` → "A, B, and C"."""
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ("," if oxford else "") + f" and {items[-1]}"


def relative_date(value: str | None) -> str | None:
    """``-7d`` → "the Last 7 Days", ``-1mStart`` → "This Month"…; None when not a relative date."""
    if not value:
        return None
    if value in ("dStart", "-0d", "-0dStart"):
        return "Today"
    if value == "-1dStart":
        return "Yesterday and Today"
    if value == "all":
        return "All Time"
    match = _RELATIVE.match(value)
    if not match:
        return None
    count, unit = int(match.group(1)), _RELATIVE_UNITS[match.group(2)]
    if match.group(3) and count == 0:
        return f"This {unit.title()}"
    if count == 1:
        return f"the Last {unit.title()}"
    return f"the Last {count} {plural(unit.title())}"


def window_phrase(count: Any, unit: Any) -> str:
    unit_text = str(unit or "day")
    number = count if isinstance(count, int) else 14
    words = _UNIT_PLURALS.get(unit_text, unit_text + "s")
    return f"{number} {words[:-1] if number == 1 else words}".lower()


def humanise_value(value: Any) -> str:
    if isinstance(value, list):
        return join_words([humanise_value(v) for v in value[:3]], oxford=False).replace(" and ", " or ")
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
