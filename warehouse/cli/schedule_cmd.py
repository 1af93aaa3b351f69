"""``warehouse schedule``: the scheduler from the command line, on documented JSON files.

    warehouse schedule plan INSTANCE.json [--json] [--out PLAN.json] [--previous PLAN.json]
    warehouse schedule check INSTANCE.json PLAN.json [--json]     # exit 1 when rules are broken
    warehouse schedule bound INSTANCE.json [--json]                # LP, configuration and the tighter bound
    warehouse schedule generate FAMILY --cameras N [--seed S] --out INSTANCE.json

Formats: ``warehouse.schedule/1`` and ``warehouse.plan/1`` (docs/scheduler.md). A malformed
file prints one line on stderr and exits with status 2.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from scheduler import (
    FAMILIES,
    Instance,
    InstanceError,
    PlanFormatError,
    PlanResult,
    bounds,
    check,
    generate,
    plan,
)
from warehouse.cli._common import AsJson, errors_exit_2

log = logging.getLogger(__name__)
app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Scheduler: plan, check and bound camera placements (warehouse.schedule/1 JSON).")

InstancePath = Annotated[Path, typer.Argument(help="Instance JSON (warehouse.schedule/1).")]


def _read(path: Path, kind: type[Exception]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise kind(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                   f"fix the file or regenerate it") from None


def _instance(path: Path) -> Instance:
    return Instance.from_json(_read(path, InstanceError))


@app.command("plan")
@errors_exit_2
def plan_cmd(instance: InstancePath,
             as_json: AsJson = False,
             out: Annotated[Path | None, typer.Option("--out", help="Write the plan JSON here.")] = None,
             previous: Annotated[Path | None, typer.Option("--previous", help="Re-plan incrementally from this plan.")] = None,
             ) -> None:
    """Plan INSTANCE.json: maximise the objective under every rule."""
    inst = _instance(instance)
    prev = PlanResult.from_json(_read(previous, PlanFormatError)) if previous is not None else None
    result = plan(inst, previous=prev)
    doc = result.to_json()
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        tmp.replace(out)  # never a half-written plan
    if as_json:
        typer.echo(json.dumps(doc))
        return
    granted = sum(len(a.demands) for a in result.cameras)
    typer.echo(f"objective {result.objective:.4f}: {len(result.cameras)} cameras on "
               f"{len({a.worker for a in result.cameras})} workers, {granted} demands granted, "
               f"{len(result.unserved)} unserved, {len(result.jobs)} jobs placed, {result.migrations} migrations"
               + (f" -> {out}" if out is not None else ""))
    for u in result.unserved[:10]:
        typer.echo(f"  unserved {u.camera}/{u.algorithm}: {u.reason}")
    if len(result.unserved) > 10:
        typer.echo(f"  ... {len(result.unserved) - 10} more unserved")


@app.command("check")
@errors_exit_2
def check_cmd(instance: InstancePath,
              plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="Plan JSON (warehouse.plan/1).")],
              as_json: AsJson = False) -> None:
    """Verify PLAN against INSTANCE: objective and every violation (exit 1 if any)."""
    inst = _instance(instance)
    report = check(inst, PlanResult.from_json(_read(plan_path, PlanFormatError)))
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        typer.echo(f"{'ok' if report.ok else 'INVALID'}: objective {report.objective:.4f} "
                   f"(plan claims {report.claimed_objective:.4f}), {report.granted} granted, "
                   f"{report.unserved} unserved, {len(report.violations)} violations")
        for v in report.violations:
            typer.echo(f"  {v}")
        if report.defaults_used:
            typer.echo(f"  costs that were defaults: {', '.join(report.defaults_used)}")
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("bound")
@errors_exit_2
def bound_cmd(instance: InstancePath, as_json: AsJson = False) -> None:
    """Print upper bounds of INSTANCE's objective (SciPy HiGHS): the LP relaxation, the
    configuration (Lagrangian) bound, and the tighter of the two as "the bound"."""
    report = bounds(_instance(instance))
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    typer.echo(f"bound {report.best:.6f} ({report.best_kind}, the tighter of the two valid bounds)")
    typer.echo(f"  lp relaxation       {report.lp:.6f}  ({report.lp_s:.2f} s; keeps memory, drops min_fps)")
    typer.echo(f"  configuration bound {report.config:.6f}  ({report.config_s:.2f} s; keeps min_fps and one rate "
               f"per camera, relaxes memory)")


@app.command("generate")
@errors_exit_2
def generate_cmd(family: Annotated[str, typer.Argument(help=f"One of {', '.join(FAMILIES)}.")],
                 out: Annotated[Path, typer.Option("--out", help="Instance JSON to write.")],
                 cameras: Annotated[int, typer.Option("--cameras", min=1)] = 200,
                 seed: Annotated[int, typer.Option("--seed")] = 0) -> None:
    """Write a generated instance of FAMILY (for trying the planner)."""
    inst = generate(family, n_cameras=cameras, seed=seed)
    out.write_text(json.dumps(inst.to_json()) + "\n", encoding="utf-8")
    typer.echo(f"{family}: {len(inst.cameras)} cameras, {len(inst.workers)} workers, "
               f"{len(inst.demands)} demands -> {out}")
