"""Ports of the Ruby functions that Debian's Puppet modules ship and their manifests call (openstacklib,
neutron, nova, postgresql, mysql, apache, memcached, monit, collectd, staging, vswitch, ironic ...).

A few of those functions reach outside the compilation: they download from a server or run a program
on the master. A manifest may do neither here (docs/SECURITY.md), so those fail with a line that says
so and what to do instead."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from .. import compilecache
from ..valuerules import hashable
from .contract import Call, function
from .encoding import to_json_text
from .network import ip_network
from .ruby import ruby_inspect, ruby_to_s, str_to_f
from .strings import ruby_basename, ruby_extname
from .typeconv import str2bool


def _outside(call: Call, what: str) -> None:
    call.fail(f"{what} from the master while compiling, which Bunraku does not do; give the value to the "
              "manifest as data (Hiera or a parameter) instead")


# -- openstacklib ------------------------------------------------------------------------------------------
@function("is_service_default", "Any $value")
def is_service_default(call: Call, v: Any) -> bool:
    return v == "<SERVICE DEFAULT>"


@function("normalize_ip_for_uri", "Variant[String, Array, Undef] *$addresses")
def normalize_ip_for_uri(call: Call, *args: Any) -> Any:
    values: Any = args[0] if args and isinstance(args[0], list) else list(args)

    def one(ip: Any) -> Any:
        net = ip_network(ip) if isinstance(ip, str) and not ip.startswith("[") else None
        if net is not None and net.version == 6 and not re.search(r"\[.+\]", ip):
            return f"[{ip}]"
        return ip

    out = [one(v) for v in values]
    return out[0] if len(values) == 1 else out


@function("inet6_prefix", "Variant[String, Array, Undef] *$addresses")
def inet6_prefix(call: Call, *args: Any) -> Any:
    values: Any = args[0] if args and isinstance(args[0], list) else list(args)

    def one(ip: Any) -> Any:
        if not isinstance(ip, str) or re.match(r"inet6:.+", ip):
            return ip
        parts = [p for p in re.split(r"\s|\[|\]", ip) if p]
        net = ip_network(parts[0]) if parts else None
        if net is not None and net.version == 6:
            return f"inet6:[{parts[0]}]{''.join(parts[1:])}"
        return ip

    out = [one(v) for v in values]
    return out[0] if len(values) == 1 else out


def _url_encode(text: Any) -> str:
    """``ERB::Util.url_encode``."""
    return quote(ruby_to_s(text), safe="-._~")


@function("os_transport_url", "Hash $options")
def os_transport_url(call: Call, raw: dict[str, Any]) -> str:
    v: dict[str, Any] = {}
    for key, value in raw.items():
        v[key] = ruby_to_s(value) if key == "port" else value
        kind: type = list if key == "hosts" else dict if key == "query" else str
        if not isinstance(v[key], kind) and v[key] is not None:
            call.fail(f"{key} should be a {'Array' if kind is list else 'Hash' if kind is dict else 'String'}")
    if "transport" not in v:
        call.fail("transport is required")
    if "host" not in v and "hosts" not in v:
        call.fail("host or hosts is required")
    if "host" in v and "hosts" in v:
        call.fail("cannot use both host and hosts.")
    userinfo = None
    if v.get("username") not in (None, ""):
        userinfo = _url_encode(v["username"])
        if v.get("password") not in (None, ""):
            userinfo += ":" + _url_encode(v["password"])
    hostinfo = "localhost"
    if "host" in v:
        host = normalize_ip_for_uri(call, v["host"])
        if "port" in v:
            host = f"{ruby_to_s(host)}:{v['port']}"
        hostinfo = f"{userinfo}@{host}" if userinfo is not None else ruby_to_s(host)
    if "hosts" in v:
        hosts = normalize_ip_for_uri(call, v["hosts"])
        hosts = [hosts] if isinstance(hosts, str) else hosts
        if "port" in v:
            hosts = [f"{ruby_to_s(h)}:{v['port']}" for h in hosts]
        hostinfo = ",".join(f"{userinfo}@{h}" if userinfo is not None else ruby_to_s(h) for h in hosts)
    path = f"/{ruby_to_s(v['virtual_host'])}" if "virtual_host" in v else "/"
    query: dict[str, Any] = dict(v.get("query") or {})
    if "ssl" in v:
        try:
            query["ssl"] = 1 if str2bool(call, v["ssl"] if v["ssl"] is not None else "") else 0
        except Exception:  # noqa: BLE001 - str2bool's own failure reads as this function's
            call.fail("Unknown type of boolean given")
    url = f"{v['transport']}://{hostinfo}{path}"
    if query:
        url += "?" + "&".join(f"{ruby_to_s(k)}={ruby_to_s(x)}" for k, x in query.items())
    return url


@function("os_database_connection", "Hash $options")
def os_database_connection(call: Call, v: dict[str, Any]) -> str:
    for key, value in v.items():
        kind: type = dict if key == "extra" else str
        if not isinstance(value, kind) and value is not None:
            call.fail(f"{key} should be a {'Hash' if kind is dict else 'String'}")
    if "dialect" not in v:
        call.fail("dialect is required")
    if "database" not in v:
        call.fail("database is required")
    if "port" in v and "host" not in v:
        call.fail("host is required with port")
    userinfo = None
    if v.get("username") not in (None, ""):
        userinfo = _url_encode(v["username"])
        if v.get("password") not in (None, ""):
            userinfo += ":" + _url_encode(v["password"])
    extra: dict[str, Any] = dict(v.get("extra") or {})
    if "charset" in v:
        extra["charset"] = v["charset"]
    url = f"{v['dialect']}:"
    if "host" in v:
        url += "//" + (f"{userinfo}@" if userinfo else "") + ruby_to_s(v["host"])
        if "port" in v:
            from .collection import ruby_to_i

            url += f":{ruby_to_i(v['port'])}"
        url += f"/{ruby_to_s(v['database'])}"
    else:
        url += f"///{ruby_to_s(v['database'])}"
    if extra:
        url += "?" + "&".join(f"{ruby_to_s(k)}={ruby_to_s(x)}" for k, x in extra.items())
    return url


# -- neutron, nova, ironic, vswitch, murano -----------------------------------------------------------------
@function("convert_to_json_string", "Any $value")
def convert_to_json_string(call: Call, value: Any) -> str:
    if isinstance(value, list) and all(isinstance(x, str) and ":" in x for x in value):
        pairs: dict[str, Any] = {}
        for s in value:
            parts = [p for p in s.split(":")]
            while len(parts) > 1 and parts[-1] == "":
                parts.pop()
            pairs[parts[0]] = parts[1] if len(parts) > 1 else None
        return to_json_text(call, pairs)
    return to_json_text(call, value)


@function("convert_cert_to_string", "String $cert_file")
def convert_cert_to_string(call: Call, path: str) -> str:
    from .common import readable_path

    target = readable_path(call, path)
    if not target.is_file():
        call.fail(f"Certificate file not found: {path}")
    lines = target.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    return "".join(line.strip() for line in lines if "-----" not in line)


def _ranges(call: Call, value: Any, check: Any) -> None:
    for r in value if isinstance(value, list) else [value]:
        check(r)


@function("validate_network_vlan_ranges", "Any $ranges")
def validate_network_vlan_ranges(call: Call, value: Any) -> list[Any]:
    def check(r: Any) -> None:
        m = re.search(r"^(.+:)?(\d+):(\d+)$", ruby_to_s(r), re.M) if isinstance(r, str) else None
        if m:
            first, second = int(m.group(2)), int(m.group(3))
            if first > 4094 or second > 4094:
                call.fail("vlan id are invalid.")
            if second < first:
                call.fail("network vlan ranges are invalid.")
        elif isinstance(r, str) and re.search(r"^([^:]+)?(:\d+)?$", r, re.M):
            return
        elif r is not None and r is not False:
            call.fail("network vlan ranges are invalid.")

    _ranges(call, value, check)
    return value if isinstance(value, list) else [value]


@function("validate_tunnel_id_ranges", "Any $ranges")
def validate_tunnel_id_ranges(call: Call, value: Any) -> list[Any]:
    def check(r: Any) -> None:
        m = re.search(r"^(\d+):(\d+)$", r, re.M) if isinstance(r, str) else None
        if m:
            first, second = int(m.group(1)), int(m.group(2))
            if second - first > 1_000_000:
                call.fail("tunnel id ranges are to large.")
            if second < first:
                call.fail("tunnel id ranges are invalid.")
        elif r is not None and r is not False:
            call.fail("tunnel id ranges are invalid.")

    _ranges(call, value, check)
    return value if isinstance(value, list) else [value]


@function("validate_vni_ranges", "Any $ranges")
def validate_vni_ranges(call: Call, value: Any) -> list[Any]:
    def check(r: Any) -> None:
        m = re.search(r"^(\d+):(\d+)$", r, re.M) if isinstance(r, str) else None
        if m:
            first, second = int(m.group(1)), int(m.group(2))
            if not (0 <= first <= 16777215 and 0 <= second <= 16777215) or second < first:
                call.fail("vni ranges are invalid.")
        elif r is not None and r is not False:
            call.fail("vni ranges are invalid.")

    _ranges(call, value, check)
    return value if isinstance(value, list) else [value]


@function("validate_vxlan_udp_port", "Variant[Integer, String] $port")
def validate_vxlan_udp_port(call: Call, port: Any) -> None:
    from .numbers import parse_number

    n = port if isinstance(port, int) else parse_number(port)
    if not isinstance(n, int) or isinstance(n, bool):
        call.fail(f"invalid value for Integer(): {ruby_inspect(port)}")
    if n != 4789 and (n <= 49151 or n > 65535):
        call.fail("vxlan udp port is invalid.")


@function("to_array_of_json_strings", "Any $list")
def to_array_of_json_strings(call: Call, value: Any) -> list[str]:
    items = value
    if isinstance(value, str):
        try:
            try:
                items = json.loads(value)
            except ValueError:
                items = json.loads(value.replace("'", '"'))
                call.warn(f"{value} is not valid JSON. Support for this format is deprecated and may be removed "
                          "in future.")
        except ValueError:
            call.fail(f"Syntax error: {value} is not valid")
        if not isinstance(items, list):
            items = [items]
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        call.fail(f"Syntax error: {ruby_to_s(value)} is not an Array or JSON encoded String")
    return [to_json_text(call, x) for x in items]


@function("ipv6_normalize_dnsmasq_ip_subnets", "Array[Hash] $subnets")
def ipv6_normalize_dnsmasq_ip_subnets(call: Call, subnets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for subnet in subnets:
        copy = dict(subnet)
        mask = subnet.get("netmask")
        net = ip_network(mask) if isinstance(mask, str) else None
        if net is not None and net.version == 6:
            copy["netmask"] = bin(int(net.network_address)).count("1")
        gateway = subnet.get("gateway")
        gw = ip_network(gateway) if isinstance(gateway, str) else None
        if gw is not None and gw.version == 6:
            copy.pop("gateway", None)
        out.append(copy)
    return out


@function("range_to_mask", "Pattern[/^$/] $range", "Pattern[/^[0-9\\-\\,]/] $range", "Undef $range")
def range_to_mask(call: Call, text: Any) -> str | None:
    if call.dispatch != 1:
        return None
    cpus: list[int] = []
    for part in text.split(","):
        if not part:
            continue
        if "-" in part:
            bounds = [int(re.match(r"-?\d*", b).group(0) or 0) for b in part.split("-")]  # type: ignore[union-attr]
            cpus.extend(range(bounds[0], bounds[1] + 1))
        else:
            cpus.append(int(re.match(r"-?\d*", part).group(0) or 0))  # type: ignore[union-attr]
    mask = 0
    for c in cpus:
        mask |= 1 << c
    return format(mask, "x")


@function("get_ext_net_name", "Hash $networks")
def get_ext_net_name(call: Call, networks: dict[str, Any]) -> Any:
    for name, value in networks.items():
        l2 = value.get("L2", {}) if isinstance(value, dict) else {}
        if isinstance(l2, dict) and l2.get("router_ext") not in (None, False):
            return name
    return None


@function("validate_yum_hash", "Hash $repositories")
def validate_yum_hash(call: Call, repos: dict[str, Any]) -> dict[str, Any] | None:
    allowed = {"name", "ensure", "baseurl", "cost", "descr", "enabled", "enablegroups", "exclude", "failovermethod",
               "gpgcheck", "gpgkey", "http_caching", "include", "includepkgs", "keepalive", "metadata_expire",
               "metalink", "mirrorlist", "priority", "protect", "provider", "proxy", "proxy_password",
               "proxy_username", "repo_gpgcheck", "s3_enabled", "skip_if_unavailable", "sslcacert", "sslclientcert",
               "sslclientkey", "sslverify", "target", "timeout"}
    for params in repos.values():
        for param in params if isinstance(params, dict) else []:
            if param not in allowed:
                call.fail(f"Parameter {param} is not valid for the yumrepo type")
    return repos or None


# -- postgresql, mysql, mongodb -----------------------------------------------------------------------------
@function("postgresql::postgresql_acls_to_resources_hash", "Array[String] $acls, String[1] $id, Integer[0] $offset")
def postgresql_acls_to_resources_hash(call: Call, acls: list[str], ident: str, offset: int) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for acl in acls:
        index = acls.index(acl)
        parts = acl.split()
        if len(parts) < 4:
            call.fail(f"acl line {index} does not have enough parts")
        resource: dict[str, Any] = {"type": parts[0], "database": parts[1], "user": parts[2],
                                    "order": f"{offset + index:03d}"}
        if parts[0] == "local":
            resource["auth_method"] = parts[3]
            if len(parts) > 4:
                resource["auth_option"] = " ".join(parts[4:])
        elif len(parts) > 4 and re.match(r"\d", parts[4]):
            resource["address"] = parts[3] + " " + parts[4]
            resource["auth_method"] = parts[5] if len(parts) > 5 else None
            if len(parts) > 6:
                resource["auth_option"] = " ".join(parts[6:])
        else:
            resource["address"] = parts[3]
            resource["auth_method"] = parts[4] if len(parts) > 4 else None
            if len(parts) > 5:
                resource["auth_option"] = " ".join(parts[5:])
        resources[f"postgresql class generated rule {ident} {index}"] = resource
    return resources


@function("postgresql::postgresql_escape", "String[1] $input_string", also=("postgresql_escape",))
def postgresql_escape(call: Call, text: str) -> str:
    if "$$" not in text and not text.endswith("$"):
        return f"$${text}$$"
    tag = re.sub(r"\d", "", hashlib.md5(text.encode()).hexdigest()[:6])
    while tag in text:
        tag = re.sub(r"\d", "", hashlib.md5(tag.encode()).hexdigest()[:6])
    return f"${tag}${text}${tag}$"


@function("postgresql::postgresql_password", "Variant[String[1], Integer] $username, Variant[String[1], Integer] $password",
          also=("postgresql_password",))
def postgresql_password(call: Call, username: Any, password: Any) -> str:
    return "md5" + hashlib.md5((ruby_to_s(password) + ruby_to_s(username)).encode()).hexdigest()


def _mysql_password(text: str) -> str:
    if text == "":
        return ""
    if re.search(r"\*[A-F0-9]{40}$", text, re.M):
        return text
    return "*" + hashlib.sha1(hashlib.sha1(text.encode()).digest()).hexdigest().upper()


@function("mysql::password", "String $password")
def mysql_password_(call: Call, text: str) -> str:
    return _mysql_password(text)


@function("mysql_password", "String $password", legacy=True)
def mysql_password(call: Call, text: str) -> str:
    return _mysql_password(text)


@function("mysql::strip_hash", "Hash $hash")
def mysql_strip_hash(call: Call, h: dict[Any, Any]) -> dict[Any, Any]:
    return {k: ({ki: vi for ki, vi in v.items() if vi != ""} if isinstance(v, dict) else v)
            for k, v in h.items() if v != ""}


@function("mongodb_password", "Any $username, Any $password", legacy=True)
def mongodb_password(call: Call, username: Any, password: Any) -> str:
    return hashlib.md5(f"{ruby_to_s(username)}:mongo:{ruby_to_s(password)}".encode()).hexdigest()


# -- apache, memcached, mcollective, collectd, inifile ---------------------------------------------------
@function("apache::bool2httpd", "Any $value", also=("bool2httpd",))
def bool2httpd(call: Call, v: Any) -> str:
    if v is None or v is False or (isinstance(v, str) and re.search(r"false", v, re.I)):
        return "Off"
    if v is True or (isinstance(v, str) and re.search(r"true", v, re.I)):
        return "On"
    return ruby_to_s(v)


@function("apache::pw_hash", "String[1] $password", also=("apache::apache_pw_hash", "apache_pw_hash"))
def apache_pw_hash(call: Call, password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


@function("memcached::max_memory", "Any $arg")
def memcached_max_memory(call: Call, arg: Any) -> int:
    from .collection import ruby_to_i
    from .common import facts

    if arg is not None and arg is not False and not ruby_to_s(arg).endswith("%"):
        return ruby_to_i(arg)
    percent = arg if arg not in (None, False) else "95%"
    memsize = ruby_to_s(facts(call).get("memorysize"))
    m = re.match(r"([0-9.e+-]*)\s*([^bB]?)", memsize)
    value = str_to_f(m.group(1)) if m else 0.0
    prefix = m.group(2) if m else ""
    shifts = {"": 0, "k": 10, "M": 20, "G": 30, "T": 40, "E": 50}
    if prefix not in shifts:
        call.fail(f"Unknown prefix {prefix}")
    size = int(value * (1 << shifts[prefix]))
    import math

    return math.floor((size // (1 << 20)) * (str_to_f(ruby_to_s(percent)) / 100.0))


@function("mco_array_to_string", "Array $array", legacy=True)
def mco_array_to_string(call: Call, items: list[Any]) -> list[str]:
    return [ruby_to_s(x) for x in items]


@function("collectd_convert_processes", "Variant[Array, Hash] $processes", legacy=True)
def collectd_convert_processes(call: Call, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for p in value:
        if isinstance(p, str):
            out[p] = {}
        elif isinstance(p, dict):
            rest = dict(p)
            name = rest.pop("name", None)
            out[hashable(name)] = rest
        else:
            call.fail("array element must be string or hash")
    return out


@function("inifile::create_ini_settings", "Hash $settings, Hash $defaults?", also=("create_ini_settings",))
def create_ini_settings(call: Call, settings: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
    defaults = defaults or {}
    resources: dict[str, Any] = {}
    for section, entries in settings.items():
        if not isinstance(entries, dict):
            call.fail(f"Section {section} must contain a Hash")
        path = {**defaults, **settings}.get("path")
        if path is None:
            call.fail("must pass the path parameter to the Ini_setting resource!")
        for setting, value in entries.items():
            params = {"ensure": "present", "section": section, "setting": setting}
            params.update(value if isinstance(value, dict) else {"value": value})
            resources[f"{ruby_to_s(path)} [{section}] {setting}"] = params
    call.call_function("create_resources", "ini_setting", resources, defaults)


# -- monit -----------------------------------------------------------------------------------------------------
_RESOURCE_TESTS = ["CPU", "CPU(USER)", "CPU(SYSTEM)", "CPU(WAIT)", "TOTAL CPU", "CHILDREN", "LOADAVG(1MIN)",
                   "LOADAVG(5MIN)", "LOADAVG(15MIN)", "TOTAL MEMORY", "MEMORY", "SWAP"]
_OPERATORS = ["<", ">", "!=", "==", "GT", "LT", "EQ", "NE", "GREATER", "LESS", "EQUAL", "NOTEQUAL"]
_PROTOCOL_TESTS = {"GENERIC": ["SEND", "EXPECT"], "HTTP": ["REQUEST", "STATUS", "CHECKSUM", "HOSTHEADER", "CONTENT"],
                   "APACHE-STATUS": ["LOGLIMIT", "CLOSELIMIT", "DNSLIMIT", "KEEPALIVELIMIT", "REPLYLIMIT",
                                     "REQUESTLIMIT", "STARTLIMIT", "WAITLIMIT", "GRACEFULLIMIT", "CLEANUPLIMIT"]}
_TEST_TYPES = {"DIRECTORY": [], "FIFO": [], "FILE": [], "FILESYSTEM": ["FSFLAGS", "SPACE", "INODE", "PERM", "PERMISSION"],
               "HOST": ["CONNECTION"], "PROCESS": _RESOURCE_TESTS + ["CONNECTION"], "PROGRAM": [],
               "SYSTEM": _RESOURCE_TESTS}
_ACTIONS = ["ALERT", "RESTART", "START", "STOP", "EXEC", "UNMONITOR"]


@function("monit_validate_tests", "String $check_type, Array[Hash] $tests", legacy=True)
def monit_validate_tests(call: Call, check_type: str, tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kind = check_type.upper()
    out = []
    for original in tests:
        test = dict(original)
        test["type"] = ruby_to_s(test.get("type")).upper()
        if test["type"] not in _TEST_TYPES.get(kind, []):
            call.fail(f"Tests for '{kind}': invalid test type '{test['type']}'")
        prefix = f"Tests for '{kind}' ('{test['type']}'): "
        if "tolerance" in test:
            tol = test["tolerance"]
            if not isinstance(tol, dict) or "cycles" not in tol:
                call.fail(prefix + "tolerance must be a hash with 'cycles' key and optionally 'times'.")
            test["tolerance"] = (f"{ruby_to_s(tol['times'])} TIMES WITHIN {ruby_to_s(tol['cycles'])} CYCLES"
                                 if "times" in tol else f"{ruby_to_s(tol['cycles'])} CYCLES")
        if "action" not in test:
            test["action"] = "ALERT"
        else:
            test["action"] = ruby_to_s(test["action"]).upper()
            if test["action"] not in _ACTIONS:
                call.fail(prefix + f"invalid action '{test['action']}'")
            if test["action"] == "EXEC" and "exec" not in test:
                call.fail(prefix + "missing command for exec action")
        if test["type"] in _RESOURCE_TESTS or test["type"] in ("SPACE", "INODE"):
            if "operator" not in test:
                call.fail(prefix + "'operator' is mandatory")
            if test["operator"] not in _OPERATORS:
                call.fail(prefix + f"invalid operator: {ruby_to_s(test['operator'])}")
            if "value" not in test:
                call.fail(prefix + "'value' is mandatory")
            test["operator"] = ruby_to_s(test["operator"]).upper()
            test["condition"] = f"{test['type']} {test['operator']} {ruby_to_s(test['value'])}"
        elif test["type"] == "FSFLAGS":
            test["condition"] = f"CHANGED {test['type']}"
        elif test["type"] in ("PERM", "PERMISSION"):
            if "value" not in test:
                call.fail(prefix + "'value' is mandatory")
            test["condition"] = f"FAILED {test['type']} {ruby_to_s(test['value'])}"
        elif test["type"] == "CONNECTION":
            test["condition"] = _monit_connection(call, test, prefix)
        out.append(test)
    return out


def _monit_connection(call: Call, test: dict[str, Any], prefix: str) -> str:
    if "port" not in test and "unixsocket" not in test:
        call.fail(prefix + "'port' or 'unixsocket' is mandatory")
    condition = "FAILED"
    if "unixsocket" in test:
        return condition + f"UNIXSOCKET {ruby_to_s(test['unixsocket'])}"
    if "host" in test:
        condition += f" HOST {ruby_to_s(test['host'])} PORT {ruby_to_s(test['port'])}"
    else:
        condition += f" PORT {ruby_to_s(test['port'])}"
    if "socket_type" in test:
        test["socket_type"] = ruby_to_s(test["socket_type"]).upper()
        condition += f" TYPE {test['socket_type']}"
        if test["socket_type"] == "TCPSSL":
            if "socket_type_cypher" in test:
                test["socket_type_cypher"] = ruby_to_s(test["socket_type_cypher"]).upper()
                condition += f" {test['socket_type_cypher']}"
            if "socket_type_checksum" in test:
                condition += f" CERTMD5 {ruby_to_s(test['socket_type_checksum'])}"
    if "protocol" in test:
        test["protocol"] = ruby_to_s(test["protocol"]).upper()
        if test["protocol"] != "GENERIC":
            condition += f"\n    PROTOCOL {test['protocol']} "
        if "protocol_test" in test:
            pt_type = test["protocol"] if test["protocol"] in _PROTOCOL_TESTS else "GENERIC"
            options = test["protocol_test"]
            if pt_type in ("HTTP", "APACHE-STATUS"):
                allowed = _PROTOCOL_TESTS[pt_type]
                if not isinstance(options, dict):
                    call.fail(prefix + f"protocol_test must be a hash with any of this keys: {', '.join(allowed)}.")
                invalid = [k.upper() for k in options if k.upper() not in allowed]
                if invalid:
                    call.fail(prefix + f"invalid options in {test['protocol']} ckeck: {', '.join(invalid)}")
                if "request" in options:
                    condition += f"\n    REQUEST {ruby_to_s(options['request'])}"
                for key, value in options.items():
                    if key != "request":
                        condition += f"\n    {key.upper()} {ruby_to_s(value)}"
            else:
                if not isinstance(options, list):
                    call.fail(prefix + "protocol_test must be an array of hashes with send/expect pairs.")
                needed = _PROTOCOL_TESTS["GENERIC"]
                for pair in options:
                    keys = [k.upper() for k in pair] if isinstance(pair, dict) else []
                    if [k for k in needed if k in keys] != needed:
                        call.fail(prefix + f"missing options in {test['protocol']} ckeck: {', '.join(needed)} are "
                                           "mandatory.")
                    for key, value in pair.items():
                        condition += f"\n    {key.upper()} {ruby_to_s(value)}"
    if "timeout" in test:
        condition += f"\n    WITH TIMEOUT {ruby_to_s(test['timeout'])} SECONDS"
    if "retry" in test:
        condition += f" RETRY {ruby_to_s(test['retry'])}"
    return condition


# -- staging, datacat, dns, ssh, translate ---------------------------------------------------------------------
@function("staging_parse", "String $source, Optional[String] $info?, Optional[String] $extension?", legacy=True)
def staging_parse(call: Call, source: str, info: str | None = None, extension: str | None = None) -> str:
    from urllib.parse import urlparse

    path = urlparse(source.replace("\\", "/")).path
    info = info or "filename"
    ext = extension if extension else ruby_extname(path)
    if info == "filename":
        return ruby_basename(path)
    if info == "basename":
        return ruby_basename(path, ext)
    if info == "extname":
        return ruby_extname(path)
    if info == "parent":
        import posixpath

        return posixpath.normpath(posixpath.join("/" if not path.startswith("/") else "", path, ".."))
    call.fail(f"unknown parse info {info}.")


@function("scope_defaults", "String $type, String $attribute", legacy=True)
def scope_defaults(call: Call, type_name: str, attribute: str) -> bool:
    from engine.catalog import capitalize_type

    wanted = capitalize_type(type_name)
    s = call.ev.scope
    while s is not None:
        if s.defaults and attribute in s.defaults.get(wanted, {}):
            return True
        s = s.parent
    return False


@function("template_body", "String *$templates", legacy=True)
def template_body(call: Call, *refs: str) -> str:
    from .common import find_module_file

    out = []
    for ref in refs:
        path = find_module_file(call, ref, "templates")
        if path is None:
            call.fail(f"Could not find template '{ref}'")
        out.append(path.read_text(encoding="utf-8"))
    return "".join(out)


@function("get_in_addr_arpa", "String $address", legacy=True)
def get_in_addr_arpa(call: Call, address: str) -> str:
    parts = address.split(".")
    while parts and parts[-1] == "":
        parts.pop()
    return ".".join(reversed(parts)) + ".in-addr.arpa"


@function("ipaddresses", "Any *$ignored", legacy=True)
def ipaddresses(call: Call, *ignored: Any) -> Any:
    from .network import interface_fact, interfaces

    names = interfaces(call)
    if not names:
        return False
    out = []
    for iface in names:
        if "lo" in iface:
            continue
        for kind in ("ipaddress", "ipaddress6"):
            value = interface_fact(call, kind, iface)
            if value not in (None, False):
                out.append(value)
    return out


@function("translate", "String $message, Hash $interpolation_values?")
def translate(call: Call, message: str, values: dict[str, Any] | None = None) -> str:
    if values is None:
        return message
    from .ruby import format_values

    return format_values(call, message, [values])


@function("cert_date_valid", "String $certificate_file", legacy=True)
def cert_date_valid(call: Call, path: str) -> Any:
    import datetime

    from cryptography import x509

    from .common import readable_path

    target = readable_path(call, path)
    try:
        cert = x509.load_pem_x509_certificate(target.read_bytes())
    except (OSError, ValueError) as exc:
        call.fail(f"No date found in certificate: {exc}")
    compilecache.impure("asked for the time")
    now = datetime.datetime.now(datetime.UTC)
    begin, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > end or now < begin or end <= begin:
        return False
    return int((end - now).total_seconds())


# -- functions that reach outside the compilation ----------------------------------------------------------------
@function("archive::artifactory_checksum", "String $url, String $checksum_type?")
def artifactory_checksum(call: Call, url: str, kind: str = "sha1") -> None:
    _outside(call, f"it downloads the checksum of {url}")


@function("archive::artifactory_latest_url", "String $url, Hash $maven_data")
def artifactory_latest_url(call: Call, url: str, data: dict[str, Any]) -> None:
    _outside(call, f"it asks Artifactory for the latest version of {url}")


@function("go_md5", "Any $username, Any $password, Any $file, String $url", legacy=True)
def go_md5(call: Call, username: Any, password: Any, file: Any, url: str) -> None:
    _outside(call, f"it downloads checksums from {url}")


@function("redisget", "String $key, String $url, String $default?", legacy=True)
def redisget(call: Call, key: str, url: str, default: str | None = None) -> None:
    _outside(call, f"it reads '{key}' from the Redis server at {url}")


@function("generate", "String +$command", legacy=True)
def generate(call: Call, *command: str) -> None:
    call.fail(f"runs '{' '.join(command)}' on the master, which a manifest may not do (docs/SECURITY.md); give the "
              "value to the manifest as data (Hiera, a fact or a parameter) instead")


@function("archive::parse_artifactory_url", "String $url")
def parse_artifactory_url(call: Call, url: str) -> dict[str, Any] | None:
    m = re.search(r"(?P<base_url>.*/artifactory)/(?P<repository>[^/]+)/(?P<org_path>.+?)/(?P<module>[^/]+)/"
                  r"(?P<base_rev>[^/]+?)(?:-(?P<folder_iteg_rev>SNAPSHOT))?/(?P=module)-(?P=base_rev)"
                  r"(?:-(?P<file_iteg_rev>SNAPSHOT|(?:(?:[0-9]{8}.[0-9]{6})-(?:[0-9]+))))?"
                  r"(?:-(?P<classifier>[^/]+?))?\.(?P<ext>(?:(?!\d))[^\-/]+|7z)", url)
    if m is None:
        return None
    return dict(m.groupdict())


@function("assemble_nexus_url", "String $nexus_url, Hash $params", legacy=True)
def assemble_nexus_url(call: Call, base: str, params: dict[str, Any]) -> str:
    from urllib.parse import quote_plus

    query = "&".join(f"{ruby_to_s(k)}={quote_plus(ruby_to_s(v), safe='*')}" for k, v in params.items())
    return f"{base}/service/local/artifact/maven/content?{query}"

