"""scripts/gpu_check.sh in its CPU dry run, in an environment shaped like the GPU machine.

The GPU machine has only python3 with torch, torchvision, onnx, onnxruntime, numpy, OpenCV
and scikit-image (and what they depend on). To try the prepared run here first, the test
hides every other installed distribution from Python (a ``sitecustomize`` finder refusing
their top-level modules: Ray, FastAPI, SQLAlchemy, pytest, the weights package...) so that
only the bundle built by ``scripts/gpu_check.sh prepare`` can supply them, as it must there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_bundle  # noqa: E402  - the script's own notion of the device package set

SIM = textwrap.dedent('''
    import sys
    HIDDEN = {hidden!r}
    class _DeviceShape:
        """Top-level modules the GPU machine does not have: not found unless the bundle has them."""
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in HIDDEN and not any(p.endswith("/vendor") for p in sys.path if p):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            if top in HIDDEN:
                from importlib.machinery import PathFinder
                vendor = [p for p in sys.path if p.endswith("/vendor")]
                if path is None and PathFinder.find_spec(top, vendor) is None:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (not on the GPU machine)", name=name)
            return None
    sys.meta_path.insert(0, _DeviceShape())
''')


def _hidden_top_levels() -> set[str]:
    present = gpu_bundle._requirement_closure(gpu_bundle.DEVICE_PACKAGES)
    hidden = set()
    for module, dists in metadata.packages_distributions().items():
        if not any(gpu_bundle._norm(d) in present for d in dists):
            hidden.add(module)
    return hidden - gpu_bundle.REPO_PACKAGES - set(sys.stdlib_module_names)


@pytest.mark.slow
def test_gpu_check_dry_run_works_with_only_the_device_packages_and_the_bundle(tmp_path):
    bundle = tmp_path / "bundle"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_bundle.py"), "--out", str(bundle), "--pool", "40"],
                   check=True, cwd=ROOT, timeout=120, capture_output=True)
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["total_mib"] < 56 and "sqlalchemy" in manifest["vendored"] and "pytest" in manifest["vendored"]
    assert not {"ray", "fastapi", "torch"} & set(manifest["vendored"])  # the device has torch; Ray is never needed

    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "sitecustomize.py").write_text(SIM.format(hidden=sorted(_hidden_top_levels())))
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(sim), "GPU_BUNDLE": str(bundle)}
    env.pop("WAREHOUSE_BACKBONE_ONNX", None)
    # the simulation must bite: without the bundle, the runtime package cannot import
    bare = subprocess.run([sys.executable, "-c", "import runtime"], env={**env, "PYTHONPATH": f"{ROOT}:{sim}"},
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bare.returncode != 0 and "sqlalchemy" in bare.stderr.lower(), bare.stderr[-1500:]

    out = tmp_path / "out"
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(out)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    logs = {p.name: p.read_text()[-3000:] for p in out.glob("*.log")}
    assert run.returncode == 0, (run.stdout[-2000:], logs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "cpu-dry-run" and summary["pytest_rc"] == 0 and summary["runtime_gpu_rc"] == 0
    bench = json.loads((out / "runtime_gpu.json").read_text())
    assert bench["engine"] == "torch-cpu" and bench["device"].startswith("cpu")
    assert bench["backbone_images_per_s"] > 0 and bench["streams_at_1fps"] >= 0
    assert bench["model_cost"]["gflops_per_image"] > 0.5 and bench["head_bank"]["heads"].startswith("40 heads")
    assert "vendor/sqlalchemy" in logs["env.log"]  # the bundle supplied what the device lacks
    junit = (out / "pytest.xml").read_text()
    assert 'name="test_torch_cpu_engine_agrees_with_ort_cpu"' in junit and "test_gpu_engine_agrees_with_ort_cpu" in junit
