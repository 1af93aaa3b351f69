"""Gather what the prepared GPU run needs into one small folder (``scripts/gpu_check.sh prepare``).

The GPU machine has Python with CUDA PyTorch, torchvision, onnx, CPU onnxruntime, numpy,
OpenCV headless and scikit-image, and nothing else; at most 64 MiB travel to it. So the
bundle holds:
* ``backbone/``: the exported, verified backbone ONNX and its verification report (the
  machine has no weights package to export it);
* ``heads/``: a head bank, one ``*.onnx`` linear head per algorithm;
* ``vendor/``: the pure-Python parts of the few distributions that ``import runtime`` and
  the engine tests need beyond the machine's packages (the catalog's SQLAlchemy and
  friends, pytest), copied from this environment without compiled extensions (those fall
  back to their pure-Python modules on another Python version);
* ``MANIFEST.json``: sizes, sha256 of the backbone, the vendored distributions.

Run with the project's venv:  .venv/bin/python scripts/gpu_bundle.py --out var/gpu_bundle
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what the GPU machine has (issue 12); their whole dependency closure counts as present
DEVICE_PACKAGES = ("numpy", "torch", "torchvision", "onnx", "onnxruntime", "opencv-python-headless", "scikit-image")
# modules the GPU run imports; the distributions behind them (and their requirements) are vendored
ENTRY_IMPORTS = ("runtime", "runtime.engines", "catalog", "benchmarks.runtime_gpu", "benchmarks.runtime_throughput")
EXTRA_DISTS = ("pytest", "pytest-timeout")  # the test runner itself
REPO_PACKAGES = {"runtime", "catalog", "scheduler", "warehouse", "knowledge_graph", "benchmarks", "tests"}
LIMIT_MIB = 56  # leave room for the working tree within the 64 MiB a call carries
SKIP_SUFFIXES = (".so", ".pyc", ".pyd", ".dylib")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_closure(names) -> set[str]:
    seen: set[str] = set()
    stack = [_norm(n) for n in names]
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        try:
            reqs = metadata.requires(d) or []
        except metadata.PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r:
                continue
            stack.append(_norm(re.split(r"[<>=!~\[; (]", r, maxsplit=1)[0]))
    return seen


def _imported_top_levels() -> set[str]:
    code = ("import sys, importlib; [importlib.import_module(m) for m in %r]; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))" % (ENTRY_IMPORTS,))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split()) - set(sys.stdlib_module_names) - REPO_PACKAGES


def vendored_distributions() -> list[str]:
    present = _requirement_closure(DEVICE_PACKAGES)
    by_module = metadata.packages_distributions()
    wanted = {_norm(d) for m in _imported_top_levels() for d in by_module.get(m, [])} | set(EXTRA_DISTS)
    return sorted(_requirement_closure(wanted) - present)


def _copy_dist(name: str, dest: Path) -> int:
    dist = metadata.distribution(name)
    base = Path(dist.locate_file(""))
    n = 0
    for f in dist.files or []:
        rel = Path(str(f))
        if rel.parts and (rel.parts[0] in ("..", "bin") or "__pycache__" in rel.parts or rel.suffix in SKIP_SUFFIXES):
            continue
        src = base / rel
        if not src.is_file():
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
        n += src.stat().st_size
    return n


def build(out: Path, *, pool: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from benchmarks.runtime_throughput import _heads
    from warehouse.training.backbone_export import ensure_backbone_onnx

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "backbone").mkdir(parents=True)
    bb = ensure_backbone_onnx(ROOT / "var" / "cache")
    shutil.copy2(bb, tmp / "backbone" / bb.name)
    shutil.copy2(bb.with_name(bb.stem + ".verify.json"), tmp / "backbone" / (bb.stem + ".verify.json"))
    (tmp / "heads").mkdir()
    for alg, blob in _heads(pool, 1280).items():
        (tmp / "heads" / f"{alg}.onnx").write_bytes(blob)
    dists = {}
    for name in vendored_distributions():
        try:
            size = _copy_dist(name, tmp / "vendor")
        except metadata.PackageNotFoundError:
            continue  # a requirement that does not apply on this platform
        dists[name] = {"version": metadata.version(name), "bytes": size}
    total = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    if total > LIMIT_MIB << 20:
        shutil.rmtree(tmp)
        raise SystemExit(f"the bundle would be {total / 2**20:.1f} MiB, over the {LIMIT_MIB} MiB a device call can carry")
    manifest = {
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python_built_with": sys.version.split()[0],
        "backbone": {"file": f"backbone/{bb.name}", "sha256": hashlib.sha256(bb.read_bytes()).hexdigest()},
        "heads": {"folder": "heads", "count": pool, "kind": "random linear heads, 1280 -> 1..3 labels"},
        "device_packages_assumed": list(DEVICE_PACKAGES),
        "vendored": dists,
        "total_mib": round(total / 2**20, 1),
    }
    (tmp / "MANIFEST.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return manifest


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "var" / "gpu_bundle"))
    ap.add_argument("--pool", type=int, default=300, help="heads in the bank")
    args = ap.parse_args(argv)
    m = build(Path(args.out), pool=args.pool)
    print(json.dumps({"bundle": args.out, "total_mib": m["total_mib"], "vendored": sorted(m["vendored"])}))


if __name__ == "__main__":
    main()
