"""``warehouse algorithm new``: a new algorithm from 10-20 labeled seed frames to production."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from warehouse.cli._common import Home, errors_exit_2
from warehouse.cli.dataset_cmd import CatalogUrl, FlywheelUrl, emit, open_stores
from warehouse.errors import InvalidInputError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Create algorithms from a few labels.")


def parse_seeds(seed: list[str], seeds_file: Path | None) -> list[tuple[str, int]]:
    """``REF=LABEL`` options and/or a file (JSON ``[{"frame_ref", "label"}]`` or CSV ``ref,label``)."""
    out: list[tuple[str, int]] = []
    for s in seed:
        ref, sep, lab = s.rpartition("=")
        if not sep or lab not in ("0", "1"):
            raise InvalidInputError(f"--seed {s!r} must be REF=0 or REF=1 (a frame ref 'camera:index' or an image path)")
        out.append((ref, int(lab)))
    if seeds_file is not None:
        text = seeds_file.read_text(encoding="utf-8")
        if seeds_file.suffix == ".json":
            try:
                out += [(str(d["frame_ref"]), int(d["label"])) for d in json.loads(text)]
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInputError(f"{seeds_file}: expected a JSON list of {{\"frame_ref\", \"label\"}} ({exc})") from None
        else:
            for row in csv.reader(text.splitlines()):
                if row and not row[0].startswith("#"):
                    if len(row) != 2 or row[1].strip() not in ("0", "1"):
                        raise InvalidInputError(f"{seeds_file}: row {row!r} must be 'ref,label' with label 0 or 1")
                    out.append((row[0].strip(), int(row[1])))
    return out


@app.command("new")
@errors_exit_2
def new_cmd(
    name: Annotated[str, typer.Option("--name", help="Human-readable name.")],
    event: Annotated[str, typer.Option("--event", help="Event type id (new or existing), e.g. fallen_tree.")],
    scene: Annotated[list[str], typer.Option("--scene", help="A scene it applies to (repeatable).")],
    description: Annotated[str, typer.Option("--description")] = "",
    seed: Annotated[list[str] | None, typer.Option("--seed", help="REF=LABEL, a frame ref or image path (repeatable).")] = None,
    seeds_file: Annotated[Path | None, typer.Option("--seeds-file", help="JSON or CSV of seed frames and labels.")] = None,
    algorithm_id: Annotated[str | None, typer.Option("--id", help="Algorithm id (default scene.<first scene>.<event>).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=10)] = 3,
    budget: Annotated[int, typer.Option(min=4, help="Frames labeled per round.")] = 40,
    labeler: Annotated[str, typer.Option(help="queue (people, through the API) or ground-truth (synthetic frames' exact labels).")] = "queue",
    timeout_s: Annotated[float, typer.Option(help="How long to wait for people per round (queue).")] = 3600.0,
    pool_url: Annotated[str | None, typer.Option("--pool-url", help="Frame pool URL (default sqlite:///<home>/pool.db).")] = None,
    no_promote: Annotated[bool, typer.Option("--no-promote", help="Register as candidate only.")] = False,
    home: Home = None, catalog_url: CatalogUrl = None, flywheel_url: FlywheelUrl = None,
) -> None:
    from warehouse.framepool import FramePool
    from warehouse.retraining.labeling import GroundTruthLabeler
    from warehouse.retraining.new_algorithm import NewAlgorithm, SeedFrame, create_algorithm, retain_image_seeds
    from warehouse.retraining.queue import QueueLabeler
    from warehouse.settings import Settings

    pairs = parse_seeds(seed or [], seeds_file)
    settings = Settings(home=home) if home is not None else Settings()
    catalog, fw = open_stores(home, catalog_url, flywheel_url)
    pool = FramePool(pool_url or f"sqlite:///{(settings.home / 'pool.db').resolve()}")
    if labeler not in ("queue", "ground-truth"):
        raise InvalidInputError(f"--labeler {labeler!r} must be 'queue' or 'ground-truth'")
    paths = [r for r, _ in pairs if Path(r).is_file()]
    mapped = {}
    if paths:
        from runtime import Backbone
        from warehouse.training.backbone_export import ensure_backbone_onnx

        mapped = retain_image_seeds(paths, pool, backbone=Backbone.load(ensure_backbone_onnx(settings.resolved_cache_dir)))
    req = NewAlgorithm(name=name, event_type=event, scenes=tuple(scene), description=description, algorithm_id=algorithm_id,
                       seeds=tuple(SeedFrame(mapped.get(r, r), lab) for r, lab in pairs))
    lab = (GroundTruthLabeler(pool) if labeler == "ground-truth"
           else QueueLabeler(fw.queue, algorithm_id=req.resolved_id, timeout_s=timeout_s))
    if labeler == "queue":
        typer.echo(f"labeling tasks open at GET /labeling/tasks?algorithm_id={req.resolved_id} (waiting up to {timeout_s:.0f} s a round)",
                   err=True)
    from warehouse.bus import open_bus

    bus = open_bus(settings.resolved_bus_url)
    try:
        r = create_algorithm(req, catalog=catalog, store=catalog.store, pool=pool, labeler=lab, flywheel=fw.store, bus=bus,
                             rounds=rounds, budget=budget, promote=not no_promote)
    finally:
        bus.close()
    emit(r.to_dict())
    if not r.verdict.passed:
        raise typer.Exit(code=1)
