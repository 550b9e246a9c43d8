"""Throttling through the ``limits`` library: in memory by default, in Redis when configured.

With Redis every instance of the service counts against the same windows, so several
instances behind a load balancer throttle as one. Limits are strings in the ``limits``
notation (``"10/minute"``, ``"3 per hour"``, ``"10/15minutes"``); windows are moving.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import TYPE_CHECKING

from coditect.cloud.errors import TooManyRequests

if TYPE_CHECKING:
    from limits import RateLimitItem

__all__ = ["RateLimiter"]


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    from limits import parse

    return parse(limit)


class RateLimiter:
    """Counts hits per key; ``hit`` raises ``TooManyRequests`` once a key is over its limit."""

    def __init__(self, redis_url: str = "", *, key_prefix: str = "coditect") -> None:
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        if redis_url:
            storage = storage_from_string(redis_url, key_prefix=f"{key_prefix}:limits")
        else:
            storage = storage_from_string("memory://")
        self.storage = storage
        self.shared = bool(redis_url)
        self._limiter = MovingWindowRateLimiter(storage)

    def hit(self, key: str, limit: str) -> None:
        """Count one hit of ``key``; raise ``TooManyRequests`` if it is over ``limit``."""
        item = _parse(limit)
        if not self._limiter.hit(item, key):
            raise self._refusal(item, key)

    def check(self, key: str, limit: str) -> None:
        """Raise ``TooManyRequests`` if ``key`` is already at ``limit``; count nothing."""
        item = _parse(limit)
        if not self._limiter.test(item, key):
            raise self._refusal(item, key)

    def clear(self, key: str, limit: str) -> None:
        """Forget the hits of ``key`` under ``limit`` (after a successful sign-in, say)."""
        self._limiter.clear(_parse(limit), key)

    def _refusal(self, item: RateLimitItem, key: str) -> TooManyRequests:
        reset = self._limiter.get_window_stats(item, key).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        return TooManyRequests("too many attempts; try again later", retry_after=retry_after)
