"""``warehouse serve``: the operations API, the bus consumers, the control plane that runs every
registered camera on the Ray cluster, and the per-algorithm retraining loops."""
from __future__ import annotations

import logging
import threading

import typer

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
        port: int = typer.Option(8080, min=1, max=65535),
        ray_address: str = typer.Option(None, "--ray-address", help="Join this Ray cluster (default: WAREHOUSE_RAY_ADDRESS, else local Ray)."),
        no_cameras: bool = typer.Option(False, "--no-cameras", help="Serve the API only: no control plane, no camera runs."),
    ) -> None:
        """Serve the operations API (OpenAPI at /docs), run the alert sink, the feedback router, the
        retraining loops, and the control plane that runs every registered camera on Ray."""
        import uvicorn

        from catalog import ArtifactStore, Catalog
        from warehouse.api import Services, create_app
        from warehouse.bus import open_bus
        from warehouse.cli._common import fail_on_domain_errors
        from warehouse.ops_store import OpsStore
        from warehouse.settings import Settings
        from warehouse.consumers import AlertSink, FeedbackRouter

        with fail_on_domain_errors():
            from warehouse.settings import check_bind_address

            s = Settings()  # every WAREHOUSE_* value checked: one line and exit 2 when one is wrong
            check_bind_address(host, port)
            s.check_production()
            s.home.mkdir(parents=True, exist_ok=True)
            ops = OpsStore(s.resolved_catalog_url)
            if s.bootstrap_admin_key:
                ops.ensure_bootstrap_admin(s.bootstrap_admin_key)  # never recreated once revoked
            bus = open_bus(s.resolved_bus_url)
            catalog = Catalog.open(s.resolved_catalog_url, store=ArtifactStore(s.resolved_artifact_root))
            from warehouse.cli.graph_cmd import open_graph

            graph = open_graph(s.home)
        from warehouse.control.wiring import pool_url
        from warehouse.framepool import FramePool
        from warehouse.retraining.datasets import Flywheel

        # labeling queue, datasets and tasks share the catalog's database with the retraining loops
        flywheel = Flywheel.open(s.resolved_catalog_url, catalog=catalog, pool=FramePool(pool_url(s)))
        services = Services(ops=ops, bus=bus, catalog=catalog, graph=graph, flywheel=flywheel)
        stop = threading.Event()
        control = status_writer = None
        if not no_cameras:
            from warehouse.control.wiring import FlywheelJobs, JobPlacement, StatusWriter, build_control_plane

            jobs = FlywheelJobs(flywheel.store)  # training and inference share one pool: the plan reserves each job's share
            with fail_on_domain_errors():
                control = build_control_plane(s, ops=ops, catalog=catalog, graph=graph, bus=open_bus(s.resolved_bus_url),
                                              ray_address=ray_address or s.ray_address, jobs=jobs)
            services.control = control
            control.start()
            status_writer = StatusWriter(control, s.home).start()
            threading.Thread(target=_retrain_forever, args=(s, catalog, bus, flywheel, stop),
                             kwargs={"job_node": JobPlacement(control, jobs)}, name="retraining", daemon=True).start()
        services.outbox.start()  # the outbox relay: feedback/miss events reach the bus, retried while it is down

        def consume() -> None:
            from warehouse.bus import SqlSeenStore

            # processed ids in the catalog database: a redelivery after a crash is recognised
            sink = AlertSink(bus, ops, hub=services.alert_hub, seen=SqlSeenStore(s.resolved_catalog_url, scope="ops-alert-sink"))
            router = FeedbackRouter(bus, graph=graph, seen=SqlSeenStore(s.resolved_catalog_url, scope="feedback-router"))
            while not stop.is_set():
                for worker in (sink, router):
                    try:
                        worker.run_once(timeout_s=0.5)
                    except Exception:  # keep serving; the record stays uncommitted and is retried
                        log.exception("consumer %s failed a round", type(worker).__name__)

        threading.Thread(target=consume, name="bus-consumers", daemon=True).start()
        try:
            uvicorn.run(create_app(services), host=host, port=port, log_level="info")
        finally:
            stop.set()
            services.outbox.stop()
            if status_writer is not None:
                status_writer.stop()
            if control is not None:
                control.stop(shutdown=True)


def _retrain_forever(settings, catalog, bus, flywheel, stop: threading.Event, *, job_node=None) -> None:
    """``miss-events`` -> each head algorithm's retraining loop, through the durable retraining worker
    (each miss counted once by its event id before its offset is committed; a crash mid-job frees
    its claim on restart). Frames are labeled by people through the labeling queue."""
    from catalog import ArtifactStore
    from warehouse.retraining.loop import RetrainingLoop
    from warehouse.retraining.queue import QueueLabeler
    from warehouse.retraining.worker import RetrainingWorker

    store = ArtifactStore(settings.resolved_artifact_root)
    loops: dict[str, RetrainingLoop] = {}

    def loop_for(algorithm_id: str):
        if algorithm_id not in loops:
            spec = catalog.get_algorithm(algorithm_id)
            if spec.kind != "classification_head" or not spec.event_types:
                return None
            loops[algorithm_id] = RetrainingLoop(algorithm_id=algorithm_id, event_type=spec.event_types[0], catalog=catalog,
                                                 store=store, pool=flywheel.pool, bus=bus, flywheel=flywheel.store,
                                                 labeler=QueueLabeler(flywheel.queue, algorithm_id=algorithm_id),
                                                 job_node=job_node)
        return loops[algorithm_id]

    worker = RetrainingWorker(bus, flywheel.store, loop_for=loop_for, catalog=catalog)
    while not stop.is_set():
        try:
            worker.run_once(timeout_s=1.0)
        except Exception:  # one round's failure is logged; the records stay uncommitted and come again
            log.exception("retraining round failed")
