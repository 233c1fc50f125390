"""Turn a capture request's bytes into JSON, the way PostHog's capture service does.

Payload from the ``data`` query parameter or the body; whole-body base64; form-encoded ``data=``;
compression from the ``compression`` parameter, the form or ``Content-Encoding`` (gzip is also
recognised by its magic bytes, lz-string by hint only); one last base64 unwrap for old SDKs.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from insightd.events.errors import CaptureError, decoding_error, parsing_error

MAX_DECOMPRESSED = 100 * 1024 * 1024
FORM_PREFIXES = (b"data=", b"ver=", b"_=", b"ip=", b"compression=")
GZIP_MAGIC = b"\x1f\x8b\x08"
_BASE64 = re.compile(rb"[A-Za-z0-9+/=]+")
_BASE64_SPACED = re.compile(r"[A-Za-z0-9+/= ]+")


def looks_base64(data: bytes) -> bool:
    return bool(data) and len(data) % 4 == 0 and _BASE64.fullmatch(data[:128]) is not None


def _b64decode(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise decoding_error("invalid gzip data") from exc
    if inflater.unconsumed_tail:
        raise CaptureError(413, "payload_too_large", "maximum event size exceeded: payload too large")
    return out


def _lz64(data: bytes) -> bytes:
    from lzstring import LZString  # small, rarely needed: only very old posthog-js sends lz64

    try:
        text = LZString().decompressFromBase64(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise decoding_error("decompress_lz64: failed decompress to UTF16") from exc
    if not text:
        raise decoding_error("decompress_lz64: failed decompress to UTF16")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise decoding_error("invalid UTF8 in request payload") from exc


def _hint(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if text in ("gzip", "gzip-js"):
        return "gzip"
    if text in ("lz64", "lz-string"):
        return "lz64"
    if text in ("base64", "b64"):
        return "base64"
    return None


def _parse_form(payload: bytes) -> dict[str, str]:
    try:
        fields = parse_qsl(payload.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise decoding_error("invalid urlencoded form data") from exc
    form = dict(fields)
    data = form.get("data")
    if data is not None and _BASE64_SPACED.fullmatch(data[:128] or "x"):
        form["data"] = data.replace(" ", "+")  # form decoding turned '+' into spaces
    return form


def decode_payload(
    body: bytes,
    query: Mapping[str, str],
    *,
    content_type: str = "",
    content_encoding: str = "",
) -> Any:
    """The JSON value a capture request carries, or a :class:`CaptureError` saying what is wrong."""
    payload = query.get("data", "").encode() or body
    if not payload:
        raise CaptureError(400, "empty_payload", "request missing data payload")
    if not payload.startswith(FORM_PREFIXES) and looks_base64(payload):
        payload = _b64decode(payload) or payload
    media = content_type.split(";", 1)[0].strip().lower()
    form: dict[str, str] = {}
    if media == "application/x-www-form-urlencoded" or payload.startswith(b"data="):
        if not payload.startswith(FORM_PREFIXES):
            raise decoding_error("expected form data in request payload")
        form = _parse_form(payload)
    hint = _hint(query.get("compression")) or _hint(form.get("compression")) or _hint(content_encoding)
    data = form["data"].encode() if "data" in form else payload
    if not data:
        raise CaptureError(400, "empty_payload", "request missing data payload")
    if hint == "gzip" or data.startswith(GZIP_MAGIC):
        data = _gunzip(data)
    elif hint == "lz64":
        data = _lz64(data)
    elif hint == "base64":
        decoded = _b64decode(data)
        if decoded is None:
            raise decoding_error("invalid base64 data")
        data = decoded
    if looks_base64(data.strip()):
        data = _b64decode(data.strip()) or data
        if data.startswith(GZIP_MAGIC):
            data = _gunzip(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise decoding_error("invalid UTF8 in request payload") from exc
        raise parsing_error(str(exc)) from exc
