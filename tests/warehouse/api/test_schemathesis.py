"""Property-based check of the whole API against its own OpenAPI schema (schemathesis):
every route, bounded examples; no 5xx, every status documented, every body matching the
documented schema, every header and content type as documented.

Two deliberate exceptions: ``positive_data_acceptance`` is off because domain rules that
JSON Schema cannot state (the stream-URL policy, the taxonomy's scene and event names,
opaque cursors) answer a documented 422 to schema-valid input; ``/status`` and ``/plan``
answer their documented 503 when no control plane runs (the lead's control plane is not
started here). The live stream (``/alerts/stream``, endless by design) is checked in
test_outbox_stream.py instead."""
from __future__ import annotations

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx
from knowledge_graph import CityGraph
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from tests.warehouse.api.conftest import alert
from warehouse.framepool import FramePool, RetainedFrame
from warehouse.retraining.datasets import Flywheel
from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.ops import CameraRecord, FailureLimiter, OpsStore

pytestmark = pytest.mark.slow
NO_CONTROL_PLANE = {"/status", "/plan"}


def _app(tmp):
    store = ArtifactStore(tmp / "artifacts")
    cat = Catalog.open(f"sqlite:///{tmp / 'catalog.db'}", store=store)
    alg = "scene.road.fallen_tree"
    cat.register_algorithm(AlgorithmSpec(id=alg, name="Fallen tree", event_types=("fallen_tree",), scene_tags=("road",), labels=("fallen_tree",)))
    sha = store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["fallen_tree"]), suffix=".onnx")
    cat.add_version(alg, artifact_sha256=sha, metrics={"f1": 0.9}, stage=Stage.PRODUCTION)
    cat.add_version(alg, artifact_sha256=sha, metrics={"f1": 0.92})
    ops = OpsStore(f"sqlite:///{tmp / 'ops.db'}")
    ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road"))
    for i in range(3):
        ops.ingest_alert(alert(i, camera="cam-1", algorithm=alg))
    graph = CityGraph.from_catalog(cat)
    graph.add_camera("cam-1", "harbor", {"road": 0.9})
    pool = FramePool(f"sqlite:///{tmp / 'pool.db'}")
    pool.add(RetainedFrame("cam-1:1", "cam-1", 1, 1_700_000_000_000, np.ones(8, np.float32)))
    flywheel = Flywheel.open(f"sqlite:///{tmp / 'flywheel.db'}", catalog=cat, pool=pool)
    flywheel.queue.open_tasks(alg, "fallen_tree", ["cam-1:1"], job_id="job-1")
    admin = ops.create_api_key(role="admin", name="schemathesis-admin")[1]
    bus = SqliteBus(tmp / "bus.db")
    # failed keys from generated requests must not lock the run out (limiting is tested elsewhere)
    services = Services(ops=ops, bus=bus, catalog=cat, graph=graph, flywheel=flywheel, auth_limiter=FailureLimiter(burst=10**9))
    return create_app(services), admin


@pytest.fixture(scope="module")
def app_and_key(tmp_path_factory):
    return _app(tmp_path_factory.mktemp("schemathesis"))


def _operations() -> list[tuple[str, str]]:
    app = create_app(Services(ops=OpsStore("sqlite://"), bus=None))
    return [(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops if p != "/alerts/stream"]


@pytest.fixture(scope="module")
def api_schema(app_and_key):
    app, _ = app_and_key
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("method, path", _operations())
def test_route_conforms_to_its_schema(method, path, api_schema, app_and_key):
    _, admin = app_and_key
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case):
        excluded = [positive_data_acceptance] + ([not_a_server_error] if path in NO_CONTROL_PLANE else [])
        case.call_and_validate(headers={"X-API-Key": admin}, excluded_checks=excluded)

    check()
