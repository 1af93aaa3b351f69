"""Browser tests: the real API served by uvicorn on a free loopback port (in a thread),
the real embedded bus with the real consumers and outbox relay running, a real catalog,
and Debian's Chromium driven by Playwright. axe-core (npm) checks accessibility.

Chromium: ``apt-get install chromium`` (scripts/setup.sh with WAREHOUSE_SETUP_SERVICES=1);
axe-core: ``npm pack axe-core@4.14.1`` into ``$WAREHOUSE_CACHE_DIR/axe`` (setup does it).
Screenshots go to ``$WAREHOUSE_TEST_ARTIFACTS/browser`` (else a tmp folder).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.services import unavailable

CHROMIUM = os.environ.get("WAREHOUSE_CHROMIUM", "/usr/bin/chromium")
AXE_VERSION = "4.14.1"
ROOT = Path(__file__).resolve().parents[2]
ALG = "scene.road.fallen_tree"


def axe_script() -> str:
    cache = Path(os.environ.get("WAREHOUSE_CACHE_DIR", ROOT / "var" / "cache")) / "axe"
    js = cache / "package" / "axe.min.js"
    if not js.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tgz = cache / f"axe-core-{AXE_VERSION}.tgz"
        if not tgz.is_file() and shutil.which("npm"):
            subprocess.run(["npm", "pack", f"axe-core@{AXE_VERSION}"], cwd=cache, check=False, capture_output=True, timeout=120)
        if not tgz.is_file():
            unavailable("axe-core", f"{tgz} missing; run `npm pack axe-core@{AXE_VERSION}` in {cache}")
        with tarfile.open(tgz) as tf:
            tf.extract("package/axe.min.js", cache, filter="data")
    return js.read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _evidence(store, seed: int) -> tuple[str, list[float]]:
    from skimage import data

    from runtime.events import evidence_jpeg

    img = [data.astronaut(), data.chelsea(), data.coffee()][seed % 3][:, :, 2::-1].copy()  # RGB -> BGR (OpenCV order)
    h, w = img.shape[:2]
    xyxy = [w * 0.25, h * 0.2, w * 0.7, h * 0.8]
    return store.put_bytes(evidence_jpeg(np.ascontiguousarray(img), tuple(xyxy), "fallen_tree"), suffix=".jpg"), xyxy


class Live:
    """The running system a browser test talks to."""

    def __init__(self, tmp: Path) -> None:
        import uvicorn

        from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx
        from warehouse.api import Services, create_app
        from warehouse.bus import SqliteBus
        from warehouse.consumers import AlertSink, FeedbackRouter
        from warehouse.ops import CameraRecord, OpsStore

        self.tmp = tmp
        self.store = ArtifactStore(tmp / "artifacts")
        self.catalog = Catalog.open(f"sqlite:///{tmp / 'catalog.db'}", store=self.store)
        self.catalog.register_algorithm(AlgorithmSpec(id=ALG, name="Fallen tree on the road", event_types=("fallen_tree",),
                                                      scene_tags=("road",), labels=("fallen_tree",)))
        head = self.store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["fallen_tree"]), suffix=".onnx")
        self.catalog.add_version(ALG, artifact_sha256=head, metrics={"precision": 0.71, "recall": 0.62, "f1": 0.66}, stage=Stage.PRODUCTION)
        self.catalog.add_version(ALG, artifact_sha256=head, metrics={"precision": 0.83, "recall": 0.74, "f1": 0.78})
        self.ops = OpsStore(f"sqlite:///{tmp / 'ops.db'}")
        self.bus = SqliteBus(tmp / "bus.db")
        from knowledge_graph import CityGraph

        self.graph = CityGraph.from_catalog(self.catalog)
        for cam, region in (("road-cam-1", "downtown"), ("road-cam-2", "harbor")):
            self.ops.add_camera(CameraRecord(cam, region, "synthetic://road", {"scenes": ["road"]}))
            self.graph.add_camera(cam, region, {"road": 0.92})  # what the control plane derives from the record
        self.keys = {role: self.ops.create_api_key(role=role, name=f"{role}-browser")[1] for role in ("viewer", "operator", "admin")}
        from warehouse.framepool import FramePool, RetainedFrame
        from warehouse.retraining.datasets import Flywheel

        self.pool = FramePool(f"sqlite:///{tmp / 'pool.db'}")
        for i in range(1, 4):  # retained frames with their JPEGs: what labelers look at
            sha, _ = _evidence(self.store, i)
            self.pool.add(RetainedFrame(f"road-cam-1:{i}", "road-cam-1", i, 1_700_000_000_000 + i, np.ones(8, np.float32) * i, sha))
        self.flywheel = Flywheel.open(f"sqlite:///{tmp / 'flywheel.db'}", catalog=self.catalog, pool=self.pool)
        self.services = Services(ops=self.ops, bus=self.bus, catalog=self.catalog, graph=self.graph, flywheel=self.flywheel)
        self.services.outbox.idle_s = 0.05
        self.services.outbox.start()
        self._stop = threading.Event()
        self.ingest_paused = threading.Event()  # set: the store stops ingesting alerts (the live stream goes on)
        self.ingest_idle = threading.Event()  # set by the consumer loop once it honours the pause (no sink poll in flight)
        sink, router = AlertSink(self.bus, self.ops, hub=self.services.alert_hub), FeedbackRouter(self.bus)

        def consume() -> None:
            while not self._stop.is_set():
                paused = self.ingest_paused.is_set()
                if paused:
                    self.ingest_idle.set()
                else:
                    self.ingest_idle.clear()
                for worker in (router,) if paused else (sink, router):
                    worker.run_once(timeout_s=0.05)

        self._consumer = threading.Thread(target=consume, name="browser-consumers", daemon=True)
        self._consumer.start()
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.services), host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.time() + 20
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"
        self.base = f"http://127.0.0.1:{self.port}"
        self._n = 0

    def publish_alert(self, camera_id: str = "road-cam-1", *, with_evidence: bool = True) -> str:
        """An alert as the runtime publishes it: an AlertEvent on the ``alerts`` topic."""
        from warehouse.bus.events import AlertEvent, to_wire, wall_ms

        self._n += 1
        sha, xyxy = _evidence(self.store, self._n) if with_evidence else (None, [10.0, 10.0, 50.0, 50.0])
        alert_id = f"al-browser-{self._n}-{int(time.time() * 1000)}"
        ev = AlertEvent.build(alert_id=alert_id, camera_id=camera_id, frame_index=self._n, algorithm_id=ALG, model_version="1",
                              score=0.91, threshold=0.5, xyxy=xyxy, stream_ts_ms=self._n * 40, ts_ms=wall_ms(), evidence_sha256=sha,
                              region_cell=[0, 0])
        self.bus.publish("alerts", to_wire(ev), key=camera_id)
        self.bus.flush()
        return alert_id

    def wait_for(self, topic: str, pred, *, timeout_s: float = 10.0, group: str | None = None) -> list:
        consumer = self.bus.consumer(topic, group=group or f"browser-check-{topic}-{time.time_ns()}")
        deadline, got = time.time() + timeout_s, []
        while time.time() < deadline:
            got += [r for r in consumer.poll(timeout_s=0.2) if pred(r.value)]
            if got:
                return got
        return got

    def close(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._stop.set()
        self._consumer.join(5)
        self.services.outbox.stop()
        self.bus.close()
        self.catalog.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    env = Live(tmp_path_factory.mktemp("browser"))
    yield env
    env.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} not found; apt-get install chromium (scripts/setup.sh with WAREHOUSE_SETUP_SERVICES=1)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture()
def artifacts(request, tmp_path) -> Path:
    root = os.environ.get("WAREHOUSE_TEST_ARTIFACTS")
    out = (Path(root) / "browser") if root else (tmp_path / "screens")
    out.mkdir(parents=True, exist_ok=True)
    return out


def sign_in(page, live: Live, role: str) -> None:
    page.goto(live.base + "/console/")
    page.fill("#login-key", live.keys[role])
    page.click("#login-submit")
    page.wait_for_selector(f"#who:has-text('({role})')")  # the console knows the key's role


def check_accessibility(page, name: str) -> list[dict]:
    """axe-core on the current page; returns serious/critical violations (none expected)."""
    page.add_script_tag(content=axe_script())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [{"page": name, "id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    return bad
