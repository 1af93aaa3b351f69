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
        video: Optional[Path] = typer.Option(None, "--video", help="Use this video (with its .labels.json) instead of generating one."),
        home: Optional[Path] = typer.Option(None, "--home", help="Demo state folder (default: $WAREHOUSE_HOME/demo)."),
        seed: int = typer.Option(7, "--seed"),
    ) -> None:
        """Run the whole loop once: frame → alert → rejection → miss event → retrained candidate."""
        from warehouse.demo import DemoOptions, run_demo, summary_lines
        from warehouse.settings import Settings
        from warehouse.cli._common import fail_on_domain_errors

        s = Settings()
        opts = DemoOptions(home=home or s.home / "demo", cache_dir=s.resolved_cache_dir, kafka=kafka, ray_address=ray_address, video=video, seed=seed)
        with fail_on_domain_errors():
            report = run_demo(opts)
        if json_out:
            typer.echo(json.dumps(report, default=str))
        else:
            for line in summary_lines(report):
                typer.echo(line)
