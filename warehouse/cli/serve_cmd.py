"""``warehouse serve``: the operations API plus the bus consumers, on one machine."""
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
    ) -> None:
        """Serve the operations API (OpenAPI at /docs) and run the alert sink and feedback router."""
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
        services = Services(ops=ops, bus=bus, catalog=catalog, graph=graph)
        stop = threading.Event()
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
