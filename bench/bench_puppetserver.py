"""Bunraku's master serving Puppet's HTTP API (`bunraku master --puppet-listen`) against Debian's puppetserver
7.9.5, on the same manifest, with the same clients.

The manifest: one defined type instantiated N times (default 1,000), each a `file` whose content is
interpolated from facts. Both servers run at once on loopback, each with 2 compile workers (Bunraku: 2 worker
processes, catalog cache off; puppetserver: `max-active-instances: 2`, -Xms1g -Xmx2g,
`environment_timeout = unlimited`), from private directories under a temporary directory.

The clients do what a Puppet agent does: POST /puppet/v3/catalog/NODE with Puppet's form encoding
(`environment=production&facts_format=application/json&facts=<the facts document, URI-encoded>`), over HTTPS
with a client certificate of their own: one certificate per node name, as each server's authorization lets a
node fetch only its own catalog (Bunraku's certificates from its CA's API, puppetserver's signed with its CA
key). Every request carries distinct facts, so nothing is served from a cache. After a warm-up (default 100
catalogs, for puppetserver's JIT), each concurrency level (default 8 and 50 requests in flight) runs on one
server and then the other, alternating; then a single client's sequential requests give the warm p50.

Recorded per server and level: catalogs/s, p50/p99 latency, the server's CPU time over the level (user +
system of its whole process tree, from /proc), and the peak RSS of the whole tree (sampled from /proc every
0.2 s, summed over the server's pid and its descendants).

    .venv/bin/python bench/bench_puppetserver.py [--resources 1000] [--requests 200] [--warmup 100]
        [--concurrency 8,50] [--single 20] [--no-puppetserver] [--write] [--allow-busy]

puppetserver takes about a minute to start; it needs `apt-get install --no-install-recommends puppetserver`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
sys.path.insert(0, str(ROOT))
SECTION = "Master over Puppet's HTTP API"
PUPPETSERVER_JAR = Path("/usr/share/puppetserver/puppetserver.jar")
PUPPETSERVER_SERVICES = Path("/etc/puppet/puppetserver/services.d")

MANIFEST = """\
define bench::conf(Integer $port) {{
  file {{ "/etc/bench/${{title}}.conf":
    ensure  => file,
    owner   => 'root',
    mode    => '0644',
    content => "# ${{title}}\\nport=${{port}}\\nhost=${{facts['networking']['fqdn']}}\\nseq=${{facts['bench_seq']}}\\n",
  }}
}}
node default {{
  Integer[1, {n}].each |$i| {{ bench::conf {{ "svc${{i}}": port => 8000 + $i }} }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_name(i: int) -> str:
    return f"node{i:03d}.bench.example.com"


def facts_document(node: str, seq: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {"name": node, "timestamp": now.isoformat(), "expiration": (now + dt.timedelta(minutes=30)).isoformat(),
            "values": {"networking": {"fqdn": node, "hostname": node.split(".")[0], "ip": "10.0.0.1"},
                       "os": {"family": "Debian", "name": "Debian", "release": {"major": "12", "full": "12.5"}},
                       "kernel": "Linux", "bench_seq": str(seq), "clientcert": node}}


def catalog_body(node: str, seq: int) -> bytes:
    """The form a Puppet agent posts: the facts document URI-encoded once, then the form encoded."""
    facts = urllib.parse.quote(json.dumps(facts_document(node, seq), separators=(",", ":")), safe="")
    form = {"environment": "production", "facts_format": "application/json", "facts": facts,
            "transaction_uuid": str(uuid.uuid4()), "fail_on_404": "true"}
    return urllib.parse.urlencode(form).encode()


# --- servers -----------------------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    ca_pem: Path
    identities: list[tuple[str, Path, Path]] = field(default_factory=list)   # (node, cert, key)
    log: Path | None = None

    @property
    def tree(self) -> harness.ProcessTree:
        return harness.ProcessTree(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_environment(codedir: Path, resources: int) -> None:
    env = codedir / "environments" / "production"
    (env / "manifests").mkdir(parents=True, exist_ok=True)
    (env / "modules").mkdir(exist_ok=True)
    (env / "manifests" / "site.pp").write_text(MANIFEST.format(n=resources))
    (env / "environment.conf").write_text("environment_timeout = unlimited\n")


def start_bunraku(base: Path, resources: int, nodes: int) -> Server:
    base.mkdir(parents=True)
    write_environment(base / "code", resources)
    port, port_file, log = free_port(), base / "ports", base / "master.log"
    config = base / "master.yaml"
    config.write_text(f"listen: 127.0.0.1:0\nca_listen: 127.0.0.1:0\ncertname: master.bench\n"
                      f"ssldir: {base / 'ssl'}\nvardir: {base / 'var'}\n"
                      f"environmentpath: {base / 'code' / 'environments'}\nworkers: 2\ncatalog_cache_size: 0\n"
                      f"log_format: kv\n")
    proc = subprocess.Popen([*harness.bunraku_command(), "master", "--config", str(config), "--puppet-listen",
                             f"127.0.0.1:{port}", "--port-file", str(port_file), "--create-store"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log, "wb"),  # noqa: SIM115
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    deadline = time.monotonic() + 120
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("bunraku master did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.1)
    server = Server("bunraku master", proc, port, base / "ssl" / "ca" / "ca_crt.pem", log=log)
    try:
        issue_bunraku_clients(server, base, nodes)
        wait_https(server, 60)
    except BaseException:
        server.stop()
        raise
    return server


def issue_bunraku_clients(server: Server, base: Path, nodes: int) -> None:
    """One certificate per node name from the master's CA (its API, as `bunraku cert generate`)."""
    from master.ca import CertificateAuthority

    ca = CertificateAuthority(base / "ssl")
    ids = base / "clients"
    ids.mkdir()
    for i in range(nodes):
        name = node_name(i)
        key, cert = ca.generate(name)
        (ids / f"{name}.key").write_bytes(key)
        (ids / f"{name}.crt").write_bytes(cert)
        server.identities.append((name, ids / f"{name}.crt", ids / f"{name}.key"))
    server.ca_pem = ids / "ca.pem"
    server.ca_pem.write_bytes(ca.ca_pem())


PUPPETSERVER_CONF = """\
jruby-puppet: {{
    ruby-load-path: [/usr/lib/puppetserver/ruby/vendor_ruby]
    gem-home: {base}/jruby-gems
    gem-path: [{base}/jruby-gems, "/usr/lib/puppetserver/vendored-jruby-gems"]
    server-conf-dir: {base}/puppet
    server-code-dir: {base}/code
    server-var-dir: {base}/var
    server-run-dir: {base}/run
    server-log-dir: {base}/log
    max-active-instances: 2
}}
http-client: {{
}}
profiler: {{
}}
"""
PUPPET_CONF = """\
[main]
certname = puppetserver.bench
server = puppetserver.bench
dns_alt_names = localhost,127.0.0.1
ssldir = {base}/ssl
cadir = {base}/ca
vardir = {base}/var
logdir = {base}/log
rundir = {base}/run
codedir = {base}/code
environment_timeout = unlimited

[server]
autosign = false
reports = none
storeconfigs = false
"""
LOGBACK = """\
<configuration>
  <appender name="F" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%d %-5p [%c{{2}}] %m%n</pattern></encoder>
  </appender>
  <root level="info"><appender-ref ref="F"/></root>
</configuration>
"""


def start_puppetserver(base: Path, resources: int, nodes: int) -> Server:
    if not PUPPETSERVER_JAR.exists() or shutil.which("java") is None:
        raise SystemExit("puppetserver is not installed (apt-get install --no-install-recommends puppetserver), "
                         "or pass --no-puppetserver")
    for d in ("conf.d", "puppet", "code", "var", "run", "log", "jruby-gems"):
        (base / d).mkdir(parents=True, exist_ok=True)
    write_environment(base / "code", resources)
    port, log = free_port(), base / "log" / "puppetserver.log"
    conf = base / "conf.d"
    for packaged in Path("/etc/puppet/puppetserver/conf.d").glob("*.conf"):  # auth.conf: a node, its own catalog
        shutil.copy(packaged, conf / packaged.name)
    (conf / "global.conf").write_text(f"global: {{\n    logging-config: {base}/logback.xml\n}}\n")
    (conf / "webserver.conf").write_text(f"webserver: {{\n    client-auth: want\n    ssl-host: 127.0.0.1\n"
                                         f"    ssl-port: {port}\n}}\n")
    (conf / "puppetserver.conf").write_text(PUPPETSERVER_CONF.format(base=base))
    (base / "logback.xml").write_text(LOGBACK.format(log=log))
    (base / "puppet" / "puppet.conf").write_text(PUPPET_CONF.format(base=base))
    argv = ["java", "-Xms1g", "-Xmx2g", "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger",
            "-Djruby.lib=/usr/share/jruby/lib", "-XX:+CrashOnOutOfMemoryError", "-jar", str(PUPPETSERVER_JAR),
            "--config", str(conf), "--bootstrap-config", str(PUPPETSERVER_SERVICES)]
    out = open(base / "log" / "stdout.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, cwd=PUPPETSERVER_JAR.parent, stdout=out, stderr=subprocess.STDOUT)
    server = Server("puppetserver", proc, port, base / "ca" / "ca_crt.pem", log=log)
    print("  starting puppetserver (about a minute) ...", flush=True)
    try:
        wait_https(server, 900)
        sign_puppet_clients(server, base, nodes)
    except BaseException:
        server.stop()
        raise
    return server


def sign_puppet_clients(server: Server, base: Path, nodes: int) -> None:
    """Client certificates signed with puppetserver's CA key, one per node name (all share one key pair)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_dir = base / "ca"
    ca_cert = x509.load_pem_x509_certificates((ca_dir / "ca_crt.pem").read_bytes())[0]
    ca_key = serialization.load_pem_private_key((ca_dir / "ca_key.pem").read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ids = base / "clients"
    ids.mkdir()
    key_path = ids / "client.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    now = dt.datetime.now(dt.UTC)
    for i in range(nodes):
        name = node_name(i)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                               critical=False)
                .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
        path = ids / f"{name}.crt"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        server.identities.append((name, path, key_path))


def wait_https(server: Server, timeout: float) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    url = f"https://127.0.0.1:{server.port}/status/v1/simple"
    while True:
        if server.proc.poll() is not None:
            raise SystemExit(f"{server.name} exited {server.proc.returncode}:\n" + tail(server.log))
        try:
            with urllib.request.urlopen(url, context=context, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise SystemExit(f"{server.name} did not answer on {url} within {timeout:.0f} s:\n" + tail(server.log))
        time.sleep(1)


def tail(path: Path | None) -> str:
    try:
        return path.read_text(errors="replace")[-3000:] if path else ""
    except OSError:
        return ""


# --- clients -----------------------------------------------------------------------------------------------

@dataclass
class Level:
    server: str
    concurrency: int
    requests: int
    wall: float
    latencies: list[float]
    cpu: float
    size: int


_SEQ = itertools.count(int(time.time()) % 100000 * 100000)


async def drive(server: Server, concurrency: int, requests: int) -> tuple[float, list[float], int]:
    """``requests`` catalog requests, ``concurrency`` in flight, each client a node of its own."""
    import aiohttp

    latencies: list[float] = []
    size = [0]
    left = [requests]
    sessions = []
    for name, cert, key in server.identities[:concurrency]:
        context = ssl.create_default_context(cafile=str(server.ca_pem))
        context.check_hostname = False   # loopback: the server's name is not what we dial; its CA is checked
        context.load_cert_chain(str(cert), str(key))
        connector = aiohttp.TCPConnector(ssl=context, limit=1)
        sessions.append((name, aiohttp.ClientSession(connector=connector,
                                                     timeout=aiohttp.ClientTimeout(total=900))))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
               "X-Puppet-Version": "7.23.0"}

    async def client(name: str, session: Any) -> None:
        url = f"https://127.0.0.1:{server.port}/puppet/v3/catalog/{name}?environment=production"
        while left[0] > 0:
            left[0] -= 1
            body = catalog_body(name, next(_SEQ))
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as reply:
                data = await reply.read()
                if reply.status != 200 or b'"resources"' not in data:
                    raise SystemExit(f"{server.name}: catalog of {name}: HTTP {reply.status}: {data[:500]!r}")
            latencies.append(time.perf_counter() - t0)
            size[0] = len(data)

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(name, session) for name, session in sessions))
        wall = time.perf_counter() - t0
    finally:
        for _name, session in sessions:
            await session.close()
    return wall, latencies, size[0]


def level(bench: harness.Bench, server: Server, concurrency: int, requests: int) -> Level:
    bench.before(f"{server.name}: {requests} catalogs, {concurrency} in flight")
    cpu0 = server.tree.cpu_seconds()
    wall, latencies, size = asyncio.run(drive(server, concurrency, requests))
    cpu = server.tree.cpu_seconds() - cpu0
    print(f"    {len(latencies) / wall:.1f} catalogs/s, p50 {harness.percentile(latencies, 50) * 1000:.0f} ms, "
          f"server CPU {cpu:.1f} s", flush=True)
    return Level(server.name, concurrency, len(latencies), wall, latencies, cpu, size)


# --- main --------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=1000, help="instances of the defined type (default 1000)")
    parser.add_argument("--requests", type=int, default=200, help="catalogs per concurrency level (default 200)")
    parser.add_argument("--warmup", type=int, default=100, help="catalogs before measuring (default 100)")
    parser.add_argument("--concurrency", default="8,50", help="requests in flight, comma separated (default 8,50)")
    parser.add_argument("--single", type=int, default=20, help="sequential requests of one warm client (default 20)")
    parser.add_argument("--no-puppetserver", action="store_true", help="measure Bunraku's master alone")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    harness.add_arguments(parser)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    nodes = max([*levels, 8])
    bench = harness.Bench(args)
    base = Path(tempfile.mkdtemp(prefix="bench-puppetserver-"))
    servers: list[Server] = []
    results: list[Level] = []
    peaks: dict[str, int] = {}
    try:
        servers.append(start_bunraku(base / "bunraku", args.resources, nodes))
        if not args.no_puppetserver:
            servers.append(start_puppetserver(base / "puppetserver", args.resources, nodes))
        samplers = {s.name: harness.TreeSampler(s.tree) for s in servers}
        for sampler in samplers.values():
            sampler.__enter__()
        try:
            for server in servers:   # warm-up: JIT, parse caches, connections
                if args.warmup:
                    level(bench, server, min(8, nodes), args.warmup)
            for concurrency in levels:
                for server in servers:   # alternating: each level on one server, then the other
                    results.append(level(bench, server, concurrency, args.requests))
            for server in servers:
                if args.single:
                    results.append(level(bench, server, 1, args.single))
        finally:
            for name, sampler in samplers.items():
                sampler.__exit__(None, None, None)
                peaks[name] = sampler.peak
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)

    rows = []
    for r in results:
        rows.append([r.server, r.concurrency, r.requests, f"{r.requests / r.wall:.1f}",
                     f"{harness.percentile(r.latencies, 50) * 1000:.0f}",
                     f"{harness.percentile(r.latencies, 99) * 1000:.0f}", f"{r.wall:.1f}", f"{r.cpu:.1f}",
                     f"{r.cpu / r.requests * 1000:.0f}", f"{r.size / 1024:.0f}"])
    if args.no_puppetserver:
        setup = ("Bunraku's master alone (--no-puppetserver) on loopback: 2 compile worker processes, catalog "
                 "cache off")
    else:
        setup = ("both servers up at once on loopback, 2 compile workers each (Bunraku: 2 worker processes, "
                 f"catalog cache off; puppetserver {puppetserver_version()}: max-active-instances 2, -Xms1g -Xmx2g, "
                 "environment_timeout unlimited)")
    lines = [f"One defined type instantiated {args.resources} times (a `file` each, content from facts); {setup}. "
             "Clients (in the bench process, on the same cores) post Puppet's form-encoded catalog request, "
             "distinct facts each time, one client certificate per node; "
             f"{args.warmup} catalogs of warm-up per server first, then each level on one server and the other "
             "in turn. Server CPU: user + system of the server's whole process tree over the level (from /proc).",
             "",
             harness.table(["server", "in flight", "catalogs", "catalogs/s", "p50 ms", "p99 ms", "wall s",
                            "server CPU s", "CPU ms/catalog", "catalog KiB"], rows, align="lrrrrrrrrr"),
             "",
             "Peak RSS of the whole server process tree: "
             + ", ".join(f"{name} {peak / 2**20:.0f} MiB" for name, peak in peaks.items()) + "."]
    by = {(r.server, r.concurrency): r for r in results}
    if len(servers) == 2:
        lines.append("")
        for concurrency in [*levels, 1]:
            ours, theirs = by.get(("bunraku master", concurrency)), by.get(("puppetserver", concurrency))
            if ours and theirs:
                p50 = harness.ratio(harness.percentile(theirs.latencies, 50), harness.percentile(ours.latencies, 50))
                per_catalog = harness.ratio(theirs.cpu / theirs.requests, ours.cpu / ours.requests)
                throughput = (ours.requests / ours.wall) / (theirs.requests / theirs.wall)
                lines.append(f"- {concurrency} in flight: Bunraku serves **{throughput:.1f}x** the catalogs/s of "
                             f"puppetserver (p50 {p50} lower), using {per_catalog} less server CPU per catalog")
        if len(peaks) == 2:
            lines.append(f"- peak RSS: {harness.ratio(peaks['puppetserver'], peaks['bunraku master'])} less "
                         "for Bunraku's master")
    return bench.finish(SECTION, "\n".join(lines))


def puppetserver_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "puppetserver"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "7.9.5"


if __name__ == "__main__":
    sys.exit(main())
