"""stdlib's deprecated checks: the ``is_*`` predicates, the ``validate_*`` assertions and
``validate_legacy``, which moves modules from them to data types. They warn once per name, as stdlib
does, and their failures read as stdlib's."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..errors import DslTypeError
from .contract import Call, function, mismatch_message
from .ruby import float_to_s, regexp, ruby_inspect, ruby_to_s, str_to_f


def _deprecated(call: Call, replacement: str) -> None:
    seen = call.ev.__dict__.setdefault("_deprecations", set())
    if call.name not in seen:
        seen.add(call.name)
        call.ev.warn(call.node, f"{call.name}(): this function is deprecated; use validate_legacy() with "
                                f"{replacement}, or a data type")


def _ruby_class(v: Any) -> str:
    from ..erb.rvalues import class_name

    return "NilClass" if v is None else class_name(v)


# -- predicates ----------------------------------------------------------------------------------------------
def is_absolute_path_text(path: Any) -> bool:
    if not isinstance(path, str):
        return False
    return path.startswith("/") or bool(re.match(r"(?i)([A-Z]:[\\/])|([\\/][\\/][^\\/]+[\\/][^\\/]+)|([\\/][\\/]\?[\\/][^\\/]+)",
                                                 path))


def ip_version(text: Any) -> int | None:
    """4 or 6 when Ruby's ``IPAddr.new`` accepts ``text`` (an address, or a network with a prefix or mask)."""
    if not isinstance(text, str):
        return None
    addr, _, mask = text.partition("/")
    addr = addr.strip("[]") if addr.startswith("[") else addr
    try:
        ip = ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        return None
    if mask:
        try:
            ipaddress.ip_network(f"{ip}/{mask}", strict=False)
        except ValueError:
            return None
    return ip.version


def is_domain_name_text(domain: Any) -> bool:
    if not isinstance(domain, str):
        return False
    if domain == ".":
        return True
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain or len(domain) > 255:
        return False
    if "." in domain and not re.search(r"\.[A-Za-z]+$", domain, re.M):
        return False
    for label in domain.split("."):
        if not 1 <= len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not re.fullmatch(r"[a-zA-Z\d-]+", label):
            return False
    return True


_EMAIL = re.compile(r"\A([\w+\-].?)+@[a-z\d\-]+(\.[a-z]+)*\.[a-z]+\Z")


def _ruby_float_text(v: str) -> str:
    """Ruby's ``v.to_f.to_s``."""
    return float_to_s(str_to_f(v))


@function("is_absolute_path", "Any $path", legacy=True)
def is_absolute_path(call: Call, path: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Absolute_path")
    return is_absolute_path_text(path)


@function("is_array", "Any $value", legacy=True)
def is_array(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Array")
    return isinstance(v, list)


@function("is_bool", "Any $value", legacy=True)
def is_bool(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Bool")
    return isinstance(v, bool)


@function("is_hash", "Any $value", legacy=True)
def is_hash(call: Call, v: Any) -> bool:
    return isinstance(v, dict)


@function("is_domain_name", "Any $value", legacy=True)
def is_domain_name(call: Call, v: Any) -> bool:
    return is_domain_name_text(v)


@function("is_email_address", "Any $value", legacy=True)
def is_email_address(call: Call, v: Any) -> bool:
    return isinstance(v, str) and _EMAIL.match(v) is not None


@function("is_float", "Any $value", legacy=True)
def is_float(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Float")
    if isinstance(v, float):
        return True
    if isinstance(v, str):
        return v == _ruby_float_text(v)
    return False


@function("is_integer", "Any $value", legacy=True)
def is_integer(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Integer")
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, str) and re.search(r"^-?(?:(?:[1-9]\d*)|0)$", v, re.M) is not None)


@function("is_numeric", "Any $value", legacy=True)
def is_numeric(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Numeric")
    if isinstance(v, bool):
        return False
    return isinstance(v, (int, float)) or (
        isinstance(v, str) and re.search(r"^-?(?:(?:[1-9]\d*)|0)(?:\.\d+)?(?:[eE]-?\d+)?$", v, re.M) is not None)


@function("is_string", "Any $value", legacy=True)
def is_string(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::String")
    if not isinstance(v, str):
        return v is None
    from .collection import ruby_to_i

    return not (v == _ruby_float_text(v) or v == str(ruby_to_i(v)))


@function("is_mac_address", "Any $value", legacy=True)
def is_mac_address(call: Call, v: Any) -> bool:
    if not isinstance(v, str):
        return False
    return bool(re.search(r"^[a-f0-9]{1,2}(:[a-f0-9]{1,2}){5}$", v, re.M | re.I)
                or re.search(r"^[a-f0-9]{1,2}(:[a-f0-9]{1,2}){19}$", v, re.M | re.I))


@function("is_ip_address", "Any $value", legacy=True)
def is_ip_address(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Ip_address")
    return ip_version(v) is not None


@function("is_ipv4_address", "Any $value", legacy=True)
def is_ipv4_address(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Ipv4")
    return ip_version(v) == 4


@function("is_ipv6_address", "Any $value", legacy=True)
def is_ipv6_address(call: Call, v: Any) -> bool:
    _deprecated(call, "Stdlib::Compat::Ipv6")
    return ip_version(v) == 6


# -- assertions -----------------------------------------------------------------------------------------------
def _each(values: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


@function("validate_absolute_path", "Any +$paths", legacy=True)
def validate_absolute_path(call: Call, *paths: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Absolute_Path")
    for p in _each(paths):
        if not is_absolute_path_text(p):
            call.error(f"{ruby_inspect(p)} is not an absolute path.")


def _validate_kind(call: Call, values: tuple[Any, ...], ok: Any, what: str) -> None:
    for v in values:
        if not ok(v):
            call.error(f"{ruby_inspect(v)} is not {what}.  It looks to be a {_ruby_class(v)}")


@function("validate_array", "Any +$values", legacy=True)
def validate_array(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Array")
    _validate_kind(call, values, lambda v: isinstance(v, list), "an Array")


@function("validate_bool", "Any +$values", legacy=True)
def validate_bool(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Bool")
    _validate_kind(call, values, lambda v: isinstance(v, bool), "a boolean")


@function("validate_hash", "Any +$values", legacy=True)
def validate_hash(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Hash")
    _validate_kind(call, values, lambda v: isinstance(v, dict), "a Hash")


@function("validate_string", "Any +$values", legacy=True)
def validate_string(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::String")
    _validate_kind(call, values, lambda v: isinstance(v, str) or v is None, "a string")


@function("validate_re", "Any $value, Variant[String, Regexp, Array] $patterns, Any $message?", legacy=True)
def validate_re(call: Call, value: Any, patterns: Any, message: Any = None) -> None:
    _deprecated(call, "Stdlib::Compat::Re")
    if not isinstance(value, str):
        call.type_error(f"input needs to be a String, not a {_ruby_class(value)}")
    items = patterns if isinstance(patterns, list) else [patterns]
    if not any(regexp(call, p).search(value) for p in items):
        call.error(ruby_to_s(message) if message not in (None, "") else
                     f"validate_re(): {ruby_inspect(value)} does not match {ruby_inspect(patterns)}")


def _ruby_integer(v: Any) -> int | None:
    from .numbers import parse_number

    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    n = parse_number(ruby_to_s(v))
    return n if isinstance(n, int) else None


def _ruby_float(v: Any) -> float | None:
    from .numbers import parse_number

    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    n = parse_number(ruby_to_s(v))
    return None if n is None else float(n)


@function("validate_slength", "Variant[String, Array] $value, Any $max_length, Any $min_length?", legacy=True)
def validate_slength(call: Call, value: Any, max_length: Any, min_length: Any = None) -> None:
    _deprecated(call, "String[]")
    most = _ruby_integer(max_length)
    if most is None or most <= 0:
        call.fail(f"Expected second argument to be a positive Numeric, got {ruby_to_s(max_length)}:"
                  f"{_ruby_class(max_length)}")
    least = 0
    if min_length not in (None, ""):
        n = _ruby_integer(min_length)
        if n is None or n < 0:
            call.fail(f"Expected third argument to be unset or a positive Numeric, got {ruby_to_s(min_length)}:"
                      f"{_ruby_class(min_length)}")
        least = n
    if most < least:
        call.fail("Expected second argument to be equal to or larger than third argument")
    for pos, s in enumerate(value if isinstance(value, list) else [value]):
        if not isinstance(s, str):
            call.fail(f"Expected element at array position {pos} to be a String, got {_ruby_class(s)}")
        if not least <= len(s) <= most:
            call.fail(f"Expected length of {ruby_inspect(value)} to be between {least} and {most}, was "
                      f"{len(value)}")


def _validate_range(call: Call, kind: str, value: Any, bounds: tuple[Any, ...]) -> None:
    convert = _ruby_integer if kind == "Integer" else _ruby_float
    article = "an" if kind == "Integer" else "a"
    most = least = None
    if len(bounds) >= 1:
        if len(bounds) == 2 and ruby_to_s(bounds[0]) == "":
            most = None
        else:
            most = convert(ruby_to_s(bounds[0]))
            if most is None:
                call.fail(f"Expected second argument to be unset or {article} {kind}, got {ruby_to_s(bounds[0])}:"
                          f"{_ruby_class(bounds[0])}")
    if len(bounds) == 2:
        least = convert(ruby_to_s(bounds[1]))
        if least is None:
            call.fail(f"Expected third argument to be unset or {article} {kind}, got {ruby_to_s(bounds[1])}:"
                      f"{_ruby_class(bounds[1])}")
    if most is not None and least is not None and least > most:
        call.fail(f"Expected second argument to be larger than third argument, got {most} < {least}")

    def check(n: Any) -> None:
        if most is not None and n > most:
            call.fail(f"Expected {ruby_inspect(value)} to be smaller or equal to {ruby_to_s(most)}, got "
                      f"{ruby_inspect(value)}.")
        if least is not None and n < least:
            call.fail(f"Expected {ruby_inspect(value)} to be greater or equal to {ruby_to_s(least)}, got "
                      f"{ruby_inspect(value)}.")

    if isinstance(value, dict):
        call.fail(f"Expected first argument to be {article} {kind} or Array, got Hash")
    if isinstance(value, list):
        for pos, item in enumerate(value):
            n = None if isinstance(item, dict) else convert(ruby_to_s(item))
            if n is None:
                call.fail(f"Expected element at array position {pos} to be {article} {kind}, got {_ruby_class(item)}")
            check(n)
        return
    n = convert(ruby_to_s(value))
    if n is None:
        call.fail(f"Expected first argument to be {article} {kind} or Array, got {_ruby_class(value)}")
    check(n)


@function("validate_integer", "Any $value, Any $max?, Any $min?", legacy=True)
def validate_integer(call: Call, value: Any, *bounds: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Integer")
    _validate_range(call, "Integer", value, bounds)


@function("validate_numeric", "Any $value, Any $max?, Any $min?", legacy=True)
def validate_numeric(call: Call, value: Any, *bounds: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Numeric")
    _validate_range(call, "Numeric", value, bounds)


def _validate_address(call: Call, values: tuple[Any, ...], versions: tuple[int, ...], what: str) -> None:
    for v in values:
        if not isinstance(v, str):
            call.error(f"{ruby_inspect(v)} is not a string.")
        if ip_version(v) not in versions:
            call.error(f"{ruby_inspect(v)} is not a valid {what} address.")


@function("validate_ip_address", "Any +$addresses", legacy=True)
def validate_ip_address(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Ip_address")
    _validate_address(call, values, (4, 6), "IP")


@function("validate_ipv4_address", "Any +$addresses", legacy=True)
def validate_ipv4_address(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Ipv4")
    _validate_address(call, values, (4,), "IPv4")


@function("validate_ipv6_address", "Any +$addresses", legacy=True)
def validate_ipv6_address(call: Call, *values: Any) -> None:
    _deprecated(call, "Stdlib::Compat::Ipv6")
    _validate_address(call, values, (6,), "IPv6")


@function("validate_domain_name", "Any +$names", legacy=True)
def validate_domain_name(call: Call, *values: Any) -> None:
    for v in values:
        if not isinstance(v, str):
            call.error(f"{ruby_inspect(v)} is not a string.")
        if not is_domain_name_text(v):
            call.error(f"{ruby_inspect(v)} is not a syntactically correct domain name")


@function("validate_email_address", "Any +$addresses", legacy=True)
def validate_email_address(call: Call, *values: Any) -> None:
    for v in values:
        if not isinstance(v, str):
            call.error(f"{ruby_inspect(v)} is not a string.")
        if _EMAIL.match(v) is None:
            call.error(f"{ruby_inspect(v)} is not a valid email address")


@function("validate_cmd", "Any $content, String $command, Any $message?", legacy=True)
def validate_cmd(call: Call, content: Any, command: str, message: Any = None) -> None:
    call.fail(f"runs the command '{command}' on the master, which a manifest may not do (docs/SECURITY.md); "
              "validate the file on the node instead, with the file resource's validate_cmd parameter")


@function("validate_augeas", "Any $content, String $lens, Optional[Array] $restrictions?, Any $message?", legacy=True)
def validate_augeas(call: Call, content: Any, lens: str, *rest: Any) -> None:
    call.fail("needs Augeas on the master, which Bunraku does not use; validate the file on the node instead, "
              "with the file resource's validate_cmd parameter")


@function("validate_x509_rsa_key_pair", "String $certificate, String $private_key", legacy=True)
def validate_x509_rsa_key_pair(call: Call, cert_text: str, key_text: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        cert = x509.load_pem_x509_certificate(cert_text.encode())
    except ValueError as exc:
        call.fail(f"Not a valid x509 certificate: {exc}")
    try:
        key = serialization.load_pem_private_key(key_text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        call.fail(f"Not a valid RSA key: {exc}")
    if not isinstance(key, rsa.RSAPrivateKey):
        call.fail("Not a valid RSA key")
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != key.public_key().public_numbers():
        call.fail("Certificate signature does not match supplied key")


@function("validate_legacy", "Type $target_type, String $function_name, Any $value, Any *$args",
          "String $type_string, String $function_name, Any $value, Any *$args")
def validate_legacy(call: Call, target: Any, function_name: str, value: Any, *args: Any) -> None:
    from .typeconv import _named_type

    t = _named_type(call, target)
    if t.instance(value):
        return
    message = f"validate_legacy({function_name}) {mismatch_message(t, value)}"
    if _previous_validation(call, function_name, value, args):
        call.ev.warn(call.node, message)
        return
    call.error(message, DslTypeError)


def _previous_validation(call: Call, name: str, value: Any, args: tuple[Any, ...]) -> bool:
    from ..errors import EvaluationError

    try:
        call.call_function(name, value, *args)
    except EvaluationError:
        return False
    return True

