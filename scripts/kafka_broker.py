#!/usr/bin/env python3
"""Start, stop and query a real single-node Apache Kafka 4.x broker (KRaft), stdlib only.

No binary tarball: the broker's jars come from Maven Central through a tiny POM
(``scripts/kafka/pom.xml``) and ``mvn dependency:copy-dependencies``, cached under
``~/.cache/city-warehouse/kafka/<version>/libs`` (a second run does not call Maven).

Command line::

    python scripts/kafka_broker.py start  [--home DIR] [--kafka-version 4.3.1]
    python scripts/kafka_broker.py status [--home DIR]
    python scripts/kafka_broker.py stop   [--home DIR]

``start`` prints ``bootstrap=127.0.0.1:PORT`` as its last line. As a module::

    import kafka_broker                      # with scripts/ on sys.path, or importlib
    info = kafka_broker.start(Path("/tmp/k"))
    info.bootstrap                           # '127.0.0.1:41234'
    kafka_broker.stop(Path("/tmp/k"))

Needs ``java`` (17+) and ``mvn``: ``apt-get install openjdk-17-jre-headless maven``.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM_PATH = HERE / "kafka" / "pom.xml"
LOG4J2_PATH = HERE / "kafka" / "log4j2.xml"
# Preference order: the newest 4.x we tested, then older 4.x lines as fall-backs.
CANDIDATE_VERSIONS = ("4.3.1", "4.1.2", "4.0.2")
READY_LINE = "Kafka Server started"
INSTALL_FIX = "apt-get install openjdk-17-jre-headless maven"
DEFAULT_HOME = Path(os.environ.get("WAREHOUSE_HOME", "var")) / "kafka"
STATE_FILE = "state.json"
PORTS_FILE = "ports.json"
LOG_FILE = "logs/server.log"


class BrokerError(RuntimeError):
    """The broker could not be resolved, formatted, started or stopped; the message names the fix."""


@dataclasses.dataclass(frozen=True, slots=True)
class BrokerInfo:
    pid: int
    bootstrap: str
    controller: str
    version: str
    home: str
    started_at_s: float

    def __str__(self) -> str:
        return f"kafka {self.version} pid={self.pid} bootstrap={self.bootstrap} home={self.home}"


# ---------------------------------------------------------------------------- jars


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "city-warehouse" / "kafka"


def _libs_dir(version: str) -> Path:
    return cache_root() / version / "libs"


def _cached(version: str) -> bool:
    return (_libs_dir(version) / ".complete").is_file()


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(f"`{name}` not found on PATH; the Kafka broker script needs java 17+ and maven: {INSTALL_FIX}")
    return path


def _mvn_copy(version: str, timeout_s: float) -> Path:
    """Collect the broker's runtime jars into the cache with Maven (atomic: temp dir + rename)."""
    mvn = _require_tool("mvn")
    final = _libs_dir(version)
    tmp = final.parent / f"libs.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [
        mvn, "-B", "-q", "-f", str(POM_PATH), f"-Dkafka.version={version}",
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={tmp}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=str(final.parent))
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BrokerError(f"maven did not finish resolving kafka {version} within {timeout_s:.0f}s; check network access to Maven Central") from exc
    jar = tmp / f"kafka_2.13-{version}.jar"
    if proc.returncode != 0 or not jar.is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise BrokerError(f"maven could not resolve org.apache.kafka:kafka_2.13:{version} (exit {proc.returncode}):\n" + "\n".join(tail))
    (tmp / ".complete").write_text(version + "\n")
    if final.exists():  # another process won the race; keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, final)
    return final


def resolve_jars(version: str | None = None, *, timeout_s: float = 600) -> tuple[str, Path]:
    """Return ``(version, libs_dir)``; uses the cache, else Maven (newest candidate that resolves)."""
    candidates = (version,) if version else CANDIDATE_VERSIONS
    for v in candidates:
        if _cached(v):
            return v, _libs_dir(v)
    errors = []
    for v in candidates:
        try:
            return v, _mvn_copy(v, timeout_s)
        except BrokerError as exc:
            if "not found on PATH" in str(exc):
                raise
            errors.append(f"{v}: {exc}")
    raise BrokerError("no Kafka version could be resolved from Maven Central:\n" + "\n".join(errors))


# ---------------------------------------------------------------------------- state


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    # SO_REUSEADDR like the JVM's listener: a port whose old connections linger in TIME_WAIT
    # after a restart is free for the broker, and must count as free here too
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _reap(pid: int) -> None:
    # When stop() runs in the process that started the broker, collect the zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _is_broker(pid: int) -> bool:
    _reap(pid)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie (state Z) has exited; a reused pid runs something other than kafka.Kafka.
    return b"kafka.Kafka" in cmdline and stat.rsplit(")", 1)[1].split()[0] != "Z"


def status(home: Path = DEFAULT_HOME) -> BrokerInfo | None:
    """The running broker recorded under ``home``, or None."""
    state = _read_json(Path(home) / STATE_FILE)
    if not state or not _is_broker(int(state["pid"])):
        return None
    return BrokerInfo(**state)


def _log_tail(home: Path, lines: int = 30) -> str:
    try:
        text = (home / LOG_FILE).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------- start / stop


def _server_properties(home: Path, port: int, cport: int) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(home / "data"),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        # one node: every internal topic has one replica
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # test speed: no wait for more group members, tiny internal topics
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        "log.retention.hours": "168",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _ports(home: Path, wait_s: float = 30.0) -> tuple[int, int]:
    """The broker's ports, fixed at the first start on this home and kept in ports.json.

    A restart listens on the same address, so every connected client reconnects by itself.
    If another process holds a recorded port, wait up to ``wait_s`` for it, then refuse (never
    move to a new port silently: that strands every client).
    """
    prev = _read_json(home / PORTS_FILE)
    if prev and isinstance(prev.get("port"), int) and isinstance(prev.get("controller_port"), int):
        port, cport = prev["port"], prev["controller_port"]
        deadline = time.monotonic() + wait_s
        while not (_port_free(port) and _port_free(cport)):
            if time.monotonic() > deadline:
                busy = [p for p in (port, cport) if not _port_free(p)]
                raise BrokerError(
                    f"port(s) {busy} recorded in {home / PORTS_FILE} for this broker are held by another process; "
                    f"stop it (`ss -ltnp | grep {busy[0]}`), or delete {home / PORTS_FILE} to choose new ports "
                    "(clients must then be given the new bootstrap address)"
                )
            time.sleep(0.2)
        return port, cport
    port, cport = _free_port(), _free_port()
    while cport == port:
        cport = _free_port()
    _write_json(home / PORTS_FILE, {"port": port, "controller_port": cport})
    return port, cport


def _java_base(java: str, libs: Path, home: Path, heap: str) -> list[str]:
    return [
        java, f"-Xmx{heap}", "-Xms128m", "-server",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={home / 'logs'}",
        f"-Dlog4j2.configurationFile={LOG4J2_PATH}",
        "-cp", f"{libs}/*",
    ]


def _format(java_base: list[str], home: Path, props: Path) -> None:
    if (home / "data" / "meta.properties").is_file():
        return
    cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
    cmd = java_base + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), "--ignore-formatted"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BrokerError(f"formatting the KRaft store in {home / 'data'} failed (exit {proc.returncode}):\n{tail}")


def _die_with_parent() -> None:
    # Linux PR_SET_PDEATHSIG: the broker gets SIGTERM when the starting process dies,
    # so a killed test session never leaves a JVM behind on a shared machine.
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def start(
    home: Path = DEFAULT_HOME,
    *,
    version: str | None = None,
    timeout_s: float = 120,
    heap: str = "512m",
    die_with_parent: bool = False,
) -> BrokerInfo:
    """Start a broker under ``home`` (or return the one already running there)."""
    home = Path(home).resolve()
    running = status(home)
    if running is not None:
        return running
    java = _require_tool("java")
    version, libs = resolve_jars(version or os.environ.get("WAREHOUSE_KAFKA_VERSION") or None)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    port, cport = _ports(home)
    props = home / "server.properties"
    props.write_text(_server_properties(home, port, cport))
    base = _java_base(java, libs, home, heap)
    _format(base, home, props)
    log_path = home / LOG_FILE
    with open(log_path, "ab") as log:
        log.write(f"\n==== start {time.strftime('%Y-%m-%d %H:%M:%S')} kafka {version} ====\n".encode())
        log.flush()
        offset = log.tell()
        proc = subprocess.Popen(
            base + ["kafka.Kafka", str(props)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    deadline = time.monotonic() + timeout_s
    while True:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            if READY_LINE.encode() in fh.read():
                break
        if proc.poll() is not None:
            raise BrokerError(f"kafka broker exited with code {proc.returncode} before it was ready; log tail ({log_path}):\n{_log_tail(home)}")
        if time.monotonic() > deadline:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
            raise BrokerError(f"kafka broker not ready after {timeout_s:.0f}s (no {READY_LINE!r} in {log_path}); log tail:\n{_log_tail(home)}")
        time.sleep(0.1)
    info = BrokerInfo(
        pid=proc.pid, bootstrap=f"127.0.0.1:{port}", controller=f"127.0.0.1:{cport}",
        version=version, home=str(home), started_at_s=time.time(),
    )
    _write_json(home / STATE_FILE, dataclasses.asdict(info))
    return info


def stop(home: Path = DEFAULT_HOME, *, timeout_s: float = 60) -> bool:
    """SIGTERM the broker under ``home`` and wait for its clean shutdown; False if none ran."""
    home = Path(home).resolve()
    info = status(home)
    if info is None:
        (home / STATE_FILE).unlink(missing_ok=True)
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _is_broker(info.pid):
        if time.monotonic() > deadline:
            os.kill(info.pid, signal.SIGKILL)
            time.sleep(0.5)
            _reap(info.pid)
            (home / STATE_FILE).unlink(missing_ok=True)
            raise BrokerError(f"kafka broker pid {info.pid} ignored SIGTERM for {timeout_s:.0f}s and was killed; log tail:\n{_log_tail(home)}")
        time.sleep(0.1)
    (home / STATE_FILE).unlink(missing_ok=True)
    return True


# ---------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Single-node Apache Kafka (KRaft) for development and tests.")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help=f"state, data and logs (default {DEFAULT_HOME})")
    parser.add_argument("--kafka-version", default=None, help=f"default: first of {', '.join(CANDIDATE_VERSIONS)} that resolves")
    parser.add_argument("--timeout-s", type=float, default=120)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            t0 = time.monotonic()
            info = start(args.home, version=args.kafka_version, timeout_s=args.timeout_s)
            print(f"{info} (ready in {time.monotonic() - t0:.1f}s)")
            print(f"bootstrap={info.bootstrap}")
        elif args.command == "stop":
            print("stopped" if stop(args.home, timeout_s=args.timeout_s) else "not running")
        else:
            info = status(args.home)
            if info is None:
                print("not running")
                return 1
            print(f"bootstrap={info.bootstrap}")
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
