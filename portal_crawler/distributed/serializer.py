"""Requests in Redis as JSON (scrapy-redis SCHEDULER_SERIALIZER: loads/dumps).

scrapy-redis pickles by default; JSON keeps the queue readable with redis-cli
and means that whoever can write to Redis cannot make a worker run code.
Bytes (bodies, headers) become {"$b": base64}; dicts with keys that are not
strings (Scrapy's headers) become {"$d": [[key, value], ...]}.
"""

from __future__ import annotations

import base64
import json
from typing import Any

_BYTES = "$b"
_DICT = "$d"


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not {_BYTES, _DICT} & set(value):
            return {key: _encode(item) for key, item in value.items()}
        return {_DICT: [[_encode(key), _encode(item)] for key, item in value.items()]}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    raise TypeError(f"a {type(value).__name__} cannot be queued in Redis: {value!r}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and _BYTES in value:
            return base64.b64decode(value[_BYTES])
        if len(value) == 1 and _DICT in value:
            return {_decode(key): _decode(item) for key, item in value[_DICT]}
        return {key: _decode(item) for key, item in value.items()}
    return value


def dumps(obj: Any) -> bytes:
    return json.dumps(_encode(obj), ensure_ascii=False, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    return _decode(json.loads(data))
