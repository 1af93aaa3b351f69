"""``warehouse demo`` (a root-level command)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of the summary."),
        kafka: Optional[str] = typer.Option(None, "--kafka", metavar="HOST:PORT", help="Use a real Kafka broker instead of the embedded bus."),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (default: start local Ray)."),
        video: Optional[Path] = typer.Option(None, "--video", help="Add this video as a real camera beside the synthetic ones (e.g. `bash scripts/fetch_vtest.sh`)."),
        home: Optional[Path] = typer.Option(None, "--home", help="Folder for demo runs (default: $WAREHOUSE_HOME/demo); each run gets a new sub-folder, nothing is deleted."),
        cameras_per_scene: int = typer.Option(2, "--cameras-per-scene", min=1, max=16, help="Synthetic cameras per scene type (4 scene types)."),
        stream_s: float = typer.Option(28.0, "--stream-seconds", min=2.0, max=3600.0, help="How long the cameras stream before the operator reviews."),
        seed: int = typer.Option(7, "--seed"),
    ) -> None:
        """A small city through the one serving path: cameras → scenes → relevance → plan → Ray workers → alerts →
        operator → miss → retraining → promotion → hot swap."""
        from warehouse.demo import DemoOptions, run_demo, summary_lines
        from warehouse.settings import Settings
        from warehouse.cli._common import fail_on_domain_errors

        s = Settings()
        opts = DemoOptions(home=home or s.home / "demo", cache_dir=s.resolved_cache_dir, kafka=kafka, ray_address=ray_address or s.ray_address,
                           video=video, seed=seed, cameras_per_scene=cameras_per_scene, stream_s=stream_s)
        with fail_on_domain_errors():
            report = run_demo(opts)
        if json_out:
            typer.echo(json.dumps(report, default=str))
        else:
            for line in summary_lines(report):
                typer.echo(line)
