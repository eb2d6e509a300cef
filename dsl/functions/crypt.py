"""crypt(3) password hashes for ``pw_hash``: MD5-crypt (``$1$``) and SHA-crypt (``$5$``, ``$6$``), as
glibc computes them, in pure Python (Python's own ``crypt`` module is deprecated and platform-bound)."""

from __future__ import annotations

import hashlib

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b64_from_24bit(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def md5_crypt(password: bytes, salt: str) -> str:
    salt = salt[:8]
    s = salt.encode()
    ctx = hashlib.md5(password + b"$1$" + s)
    alt = hashlib.md5(password + s + password).digest()
    n = len(password)
    while n > 0:
        ctx.update(alt[:min(16, n)])
        n -= 16
    n = len(password)
    while n:
        ctx.update(b"\0" if n & 1 else password[:1])
        n >>= 1
    final = ctx.digest()
    for i in range(1000):
        c = hashlib.md5()
        c.update(password if i & 1 else final)
        if i % 3:
            c.update(s)
        if i % 7:
            c.update(password)
        c.update(final if i & 1 else password)
        final = c.digest()
    f = final
    out = (_b64_from_24bit(f[0], f[6], f[12], 4) + _b64_from_24bit(f[1], f[7], f[13], 4)
           + _b64_from_24bit(f[2], f[8], f[14], 4) + _b64_from_24bit(f[3], f[9], f[15], 4)
           + _b64_from_24bit(f[4], f[10], f[5], 4) + _b64_from_24bit(0, 0, f[11], 2))
    return f"$1${salt}${out}"


def _repeat(digest: bytes, n: int) -> bytes:
    size = len(digest)
    return digest * (n // size) + digest[:n % size]


def sha_crypt(password: bytes, salt_spec: str, bits: int) -> str:
    """``$5$`` (bits 256) or ``$6$`` (bits 512); ``salt_spec`` may start with ``rounds=N$``."""
    h = hashlib.sha256 if bits == 256 else hashlib.sha512
    rounds = 5000
    custom_rounds = False
    salt = salt_spec
    if salt.startswith("rounds="):
        spec, _, salt = salt.partition("$")
        try:
            rounds = max(1000, min(999_999_999, int(spec[len("rounds="):])))
            custom_rounds = True
        except ValueError:
            salt = salt_spec
    salt = salt[:16]
    s = salt.encode()
    b = h(password + s + password).digest()
    a = h(password + s)
    a.update(_repeat(b, len(password)))
    n = len(password)
    while n:
        a.update(b if n & 1 else password)
        n >>= 1
    da = a.digest()
    dp = h(password * len(password)).digest()
    p = _repeat(dp, len(password))
    ds = h(s * (16 + da[0])).digest()
    sb = _repeat(ds, len(s))
    c = da
    for i in range(rounds):
        ctx = h()
        ctx.update(p if i & 1 else c)
        if i % 3:
            ctx.update(sb)
        if i % 7:
            ctx.update(p)
        ctx.update(c if i & 1 else p)
        c = ctx.digest()
    if bits == 256:
        order = [(0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14), (15, 25, 5), (6, 16, 26),
                 (27, 7, 17), (18, 28, 8), (9, 19, 29)]
        out = "".join(_b64_from_24bit(c[x], c[y], c[z], 4) for x, y, z in order)
        out += _b64_from_24bit(0, c[31], c[30], 3)
        prefix = "$5$"
    else:
        order = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
                 (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
                 (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19),
                 (62, 20, 41)]
        out = "".join(_b64_from_24bit(c[x], c[y], c[z], 4) for x, y, z in order)
        out += _b64_from_24bit(0, 0, c[63], 2)
        prefix = "$6$"
    rounds_text = f"rounds={rounds}$" if custom_rounds else ""
    return f"{prefix}{rounds_text}{salt}${out}"
