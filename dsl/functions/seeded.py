"""Ruby's seeded random numbers, so that ``fqdn_rand``, ``fqdn_rotate``, ``fqdn_rand_string`` and
``seeded_rand`` give the numbers Puppet gives for the same node and seed.

Ruby's ``Random.new(seed)`` and Python's ``random.Random(seed)`` both seed the Mersenne Twister from
the 32-bit words of the seed (``init_by_array``), so their raw 32-bit outputs agree; ``rand(n)``
differs: Ruby masks each output to the bit length of ``n - 1`` and retries when it is larger."""

from __future__ import annotations

import hashlib
import random


class RubyRandom:
    __slots__ = ("_mt",)

    def __init__(self, seed: int) -> None:
        self._mt = random.Random(abs(seed))

    def rand(self, n: int) -> int:
        """An integer in ``[0, n)``, as Ruby's ``Random#rand(n)`` draws it."""
        limit = n - 1
        if limit <= 0:
            return 0
        mask = (1 << limit.bit_length()) - 1
        words = (limit.bit_length() + 31) // 32
        while True:
            value = 0
            for i in range(words - 1, -1, -1):
                if (mask >> (i * 32)) & 0xFFFFFFFF:
                    value |= self._mt.getrandbits(32) << (i * 32)
                    value &= mask
                    if value > limit:
                        break
            else:
                return value

    def float(self) -> float:
        """Ruby's ``Random#rand`` without an argument (53-bit resolution, as genrand_res53)."""
        a = self._mt.getrandbits(32) >> 5
        b = self._mt.getrandbits(32) >> 6
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


def ruby_random(seed: int) -> RubyRandom:
    return RubyRandom(seed)


def md5_seed(text: str) -> int:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16)
