"""Benchmark ``alert_stream``: the live alert stream's fan-out, and alert listing at scale.

Fan-out: the real API served by uvicorn on loopback, the API's stream relay and the real
``AlertSink`` (store ingest) both reading the embedded bus, N concurrent SSE clients in a child
process (raw asyncio sockets, so the client side is not the bottleneck), and a publisher
putting ``AlertEvent``s on the bus at R alerts/s. Latency is from the publish on the bus
(the event's ``ts_ms``, wall clock) to the moment a client has read the event.

Listing: M alerts stored (bulk insert), then ``GET /alerts`` over HTTP with random filter
combinations (camera, region, algorithm + state, time range, a second page by cursor).

Default: 20 clients at 200 alerts/s for 5 s, 100,000 stored alerts; ``--full``: 100 clients
at 1,000 alerts/s for 10 s and 1,000,000 stored alerts (the issue's size)::

    .venv/bin/python -m benchmarks.alert_stream [--full] [--clients N] [--rate R] [--seconds S] [--stored M]

Prints progress to stderr and ONE JSON object as the last line of stdout: ``delivered_per_s``,
``p99_ms`` (and ``p50_ms``), ``lost``, ``published``, ``list_p99_ms`` (and ``list_p50_ms``);
``bus_to_hub_*_ms`` splits the latency: publish on the bus -> the stream hub has it (the
rest is the fan-out to the clients); ``ingested`` counts what the sink stored meanwhile.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

_TS = re.compile(rb'"ts_ms":(\d+)')
_ID = re.compile(rb"^id: (\S+)$", re.M)


def _log(msg: str) -> None:
    print(f"[alert_stream] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- clients (child process) ----------------------------------------------------------------
async def _client(port: int, key: str, expect: int, deadline: float, out: list, ready: asyncio.Event, counter: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /alerts/stream?heartbeat_s=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    ids: set[bytes] = set()
    lat: list[float] = []
    counter[0] += 1
    if counter[0] == counter[1]:
        ready.set()
    buf = b""
    try:
        while len(ids) < expect:
            chunk = await asyncio.wait_for(reader.read(1 << 18), timeout=max(0.1, deadline - time.time()))
            if not chunk:
                break
            now_ms = time.time() * 1000
            buf += chunk
            cut = buf.rfind(b"\n\n")  # whole SSE frames only; the rest waits for the next read
            if cut < 0:
                continue
            frames, buf = buf[:cut + 2], buf[cut + 2:]
            ids.update(_ID.findall(frames))  # C-speed scans: the client must not be the bottleneck
            lat.extend(now_ms - int(ts) for ts in _TS.findall(frames))
    except (asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
    out.append((len(ids), lat))


def _clients_main(port: int, key: str, n: int, expect: int, budget_s: float, conn) -> None:
    async def run():
        out: list = []
        ready = asyncio.Event()
        counter = [0, n]
        deadline = time.time() + budget_s
        tasks = [asyncio.create_task(_client(port, key, expect, deadline, out, ready, counter)) for _ in range(n)]
        await ready.wait()
        conn.send("connected")
        await asyncio.gather(*tasks)
        return out

    out = asyncio.run(run())
    conn.send((out, time.process_time()))


# -- the fan-out run ----------------------------------------------------------------------
def fan_out(tmp: Path, *, clients: int, rate: int, seconds: float) -> dict:
    import uvicorn

    from warehouse.api import Services, create_app
    from warehouse.bus import SqliteBus
    from warehouse.bus.events import AlertEvent, to_wire
    from warehouse.consumers import AlertSink
    from warehouse.ops import CameraRecord, OpsStore

    ops = OpsStore(f"sqlite:///{tmp / 'ops.db'}")
    bus = SqliteBus(tmp / "bus.db", synchronous="OFF")
    cams = [f"cam-{i}" for i in range(20)]
    for i, c in enumerate(cams):
        ops.add_camera(CameraRecord(c, f"region-{i % 4}", "synthetic://road"))
    key = ops.create_api_key(role="viewer", name="bench")[1]
    services = Services(ops=ops, bus=bus)
    hub_lat: list[float] = []
    hub_publish = services.alert_hub.publish

    def timed_publish(alert: dict) -> None:  # stage split: bus -> hub (first copy), then hub -> clients
        if not services.alert_hub.has(alert["alert_id"]):
            hub_lat.append(time.time() * 1000 - alert["ts_ms"])
        hub_publish(alert)

    services.alert_hub.publish = timed_publish
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    stop = threading.Event()
    sink = AlertSink(bus, ops, hub=services.alert_hub, group="bench-sink")

    def consume():
        while not stop.is_set():
            sink.run_once(timeout_s=0.005)

    threading.Thread(target=consume, daemon=True).start()

    total = int(rate * seconds)
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_clients_main, args=(port, key, clients, total, seconds + 30, child), daemon=True)
    proc.start()
    assert parent.recv() == "connected"
    while services.alert_hub.subscribers < clients:
        time.sleep(0.01)
    _log(f"{clients} clients connected; publishing {total} alerts at {rate}/s")
    t0, cpu0 = time.time(), time.process_time()
    tick = 0.01
    for n in range(total):
        due = t0 + n / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        ms = int(time.time() * 1000)
        ev = AlertEvent.build(alert_id=f"bench-{n}", camera_id=cams[n % len(cams)], frame_index=n, algorithm_id="scene.road.fallen_tree",
                              model_version="1", score=0.9, threshold=0.5, xyxy=[1.0, 2.0, 30.0, 40.0], stream_ts_ms=n * 40, ts_ms=ms,
                              region_cell=[0, 0])
        bus.publish("alerts", to_wire(ev), key=ev.camera_id)
        if n % max(1, int(rate * tick)) == 0:
            bus.flush()
    bus.flush()
    publish_s = time.time() - t0
    results, client_cpu_s = parent.recv()
    window_s = time.time() - t0
    server_cpu_s = time.process_time() - cpu0
    proc.join(10)
    stop.set()
    server.should_exit = True
    received = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    lost = clients * total - received
    q = statistics.quantiles(lat, n=100) if len(lat) >= 100 else [max(lat or [0])] * 99
    return {"clients": clients, "rate_per_s": rate, "published": total, "publish_s": round(publish_s, 2),
            "delivered": received, "delivered_per_s": round(received / window_s, 1), "lost": lost,
            "p50_ms": round(statistics.median(lat), 1) if lat else None, "p99_ms": round(q[98], 1) if lat else None,
            "bus_to_hub_p50_ms": round(statistics.median(hub_lat), 1) if hub_lat else None,
            "bus_to_hub_p99_ms": round(statistics.quantiles(hub_lat, n=100)[98], 1) if len(hub_lat) >= 100 else None,
            "ingested": sink.stored, "server_cpu_s": round(server_cpu_s, 1), "client_cpu_s": round(client_cpu_s, 1),
            "window_s": round(window_s, 1)}


# -- listing over many stored alerts --------------------------------------------------------
def listing(tmp: Path, *, stored: int, requests: int = 300, seed: int = 7) -> dict:
    import httpx
    import uvicorn

    from warehouse.api import Services, create_app
    from warehouse.ops import OpsStore
    from warehouse.ops import tables as t

    ops = OpsStore(f"sqlite:///{tmp / 'list.db'}")
    key = ops.create_api_key(role="viewer", name="bench")[1]
    rng = random.Random(seed)
    cams = [f"cam-{i}" for i in range(200)]
    algs = [f"scene.road.event_{i}" for i in range(50)]
    t0_ms = 1_700_000_000_000
    _log(f"storing {stored} alerts")
    t0 = time.time()
    batch = []
    with ops.engine.begin() as c:
        for n in range(stored):
            cam = cams[n % len(cams)]
            ts = t0_ms + n * 100
            payload = {"alert_id": f"a-{n}", "camera_id": cam, "algorithm_id": algs[n % len(algs)], "ts_ms": ts, "score": 0.9,
                       "frame_ref": f"{cam}:{n}", "xyxy": [1, 2, 3, 4], "model_version": "1"}
            batch.append({"alert_id": payload["alert_id"], "camera_id": cam, "region": f"region-{cams.index(cam) % 10}",
                          "algorithm_id": payload["algorithm_id"], "payload": json.dumps(payload), "ts_ms": ts,
                          "status": rng.choice(("open", "open", "confirmed", "rejected"))})
            if len(batch) == 20_000:
                c.execute(t.alerts.insert(), batch)
                batch.clear()
        if batch:
            c.execute(t.alerts.insert(), batch)
        c.exec_driver_sql("ANALYZE")
    _log(f"stored in {time.time() - t0:.1f} s")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Services(ops=ops, bus=None)), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    span = stored * 100
    lat = []
    kinds: dict[str, list[float]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30) as http:
        http.get("/alerts", params={"limit": 1})  # warm
        for i in range(requests):
            kind = ("camera", "region", "algorithm_state", "time_range", "cursor")[i % 5]
            start = t0_ms + rng.randrange(span)
            params = {"limit": 50, **{"camera": {"camera_id": rng.choice(cams)},
                                      "region": {"region": f"region-{rng.randrange(10)}"},
                                      "algorithm_state": {"algorithm_id": rng.choice(algs), "state": rng.choice(("open", "rejected"))},
                                      "time_range": {"since_ms": start, "until_ms": start + 3_600_000, "camera_id": rng.choice(cams)},
                                      "cursor": {"camera_id": rng.choice(cams)}}[kind]}
            if kind == "cursor":
                params["limit"] = 20
                first = http.get("/alerts", params=params)
                params["cursor"] = first.headers["X-Next-Cursor"]
            t1 = time.perf_counter()
            r = http.get("/alerts", params=params)
            ms = (time.perf_counter() - t1) * 1000
            r.raise_for_status()
            lat.append(ms)
            kinds.setdefault(kind, []).append(ms)
        # the same queries straight on the store, wall and this thread's CPU (robust to a noisy box)
        store_wall, store_cpu = [], []
        for i in range(requests):
            kw = {"camera_id": rng.choice(cams)} if i % 2 else {"algorithm_id": rng.choice(algs), "status": "open"}
            w, c = time.perf_counter(), time.thread_time()
            ops.page_alerts(limit=50, **kw)
            store_wall.append((time.perf_counter() - w) * 1000)
            store_cpu.append((time.thread_time() - c) * 1000)
    server.should_exit = True
    q = statistics.quantiles(lat, n=100)
    return {"store_query_p99_ms": round(statistics.quantiles(store_wall, n=100)[98], 2),
            "store_query_cpu_p99_ms": round(statistics.quantiles(store_cpu, n=100)[98], 2),
            "stored": stored, "list_requests": requests, "list_p50_ms": round(statistics.median(lat), 2), "list_p99_ms": round(q[98], 2),
            "list_p99_ms_by_filter": {k: round(statistics.quantiles(v, n=100)[98], 2) if len(v) >= 2 else v[0] for k, v in kinds.items()},
            "db_size_mib": round((tmp / "list.db").stat().st_size / 2**20, 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="100 clients at 1,000 alerts/s, 1,000,000 stored alerts")
    ap.add_argument("--clients", type=int)
    ap.add_argument("--rate", type=int, help="alerts per second")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--stored", type=int, help="alerts stored for the listing test")
    args = ap.parse_args(argv)
    clients = args.clients or (100 if args.full else 20)
    rate = args.rate or (1000 if args.full else 200)
    seconds = args.seconds or (10.0 if args.full else 5.0)
    stored = args.stored or (1_000_000 if args.full else 100_000)
    import logging

    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="alert-stream-") as d:
        tmp = Path(d)
        out = {"benchmark": "alert_stream", "full": args.full, **fan_out(tmp, clients=clients, rate=rate, seconds=seconds),
               **listing(tmp, stored=stored)}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
