"""Packaging: CPU and GPU ONNX Runtime are alternatives that never co-install; imports stay light.

The resolution tests ask pip (the real resolver, against the real index) what
``pip install '.[cpu]'`` and ``'.[gpu]'`` would install on a fresh environment. They need
the package index: in CI it is there, so an unreachable index fails the test instead of
skipping it.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORT_WHEELS = {"onnxruntime", "onnxruntime-gpu"}
RESOLVE_TIMEOUT_S = 480

# a meta-path finder that makes the named top-level packages unimportable (as if not installed)
_HIDE = """
import sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Hide())
"""


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def _requirement_names(reqs: list[str]) -> set[str]:
    import re

    return {_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs}


def _python(code: str, *, hidden: set[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _HIDE.format(hidden=sorted(hidden)) + code],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_pyproject_keeps_onnxruntime_out_of_the_base_and_apart_in_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: _requirement_names(v) for k, v in project["optional-dependencies"].items()}
    assert not _requirement_names(project["dependencies"]) & ORT_WHEELS  # base pulls neither
    assert extras["cpu"] & ORT_WHEELS == {"onnxruntime"}
    assert extras["gpu"] & ORT_WHEELS == {"onnxruntime-gpu"}
    for name, names in extras.items():
        assert names & ORT_WHEELS != ORT_WHEELS, f"extra {name!r} would install both ONNX Runtime wheels"
    trt = [r for r in project["optional-dependencies"]["tensorrt"] if _norm(r).startswith("tensorrt")]
    assert trt == ["tensorrt>=10,<11"]  # the range the engine's version dispatch supports first


def test_import_runtime_without_onnxruntime_names_the_extras():
    out = _python("import runtime", hidden={"onnxruntime"})
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ONNX Runtime is not installed"), out.stderr[-2000:]
    assert "[cpu]" in last and "[gpu]" in last and "never both" in last


def test_runtime_imports_without_ray_fastapi_or_torch():
    # the GPU machine of scripts/gpu_check.sh has no Ray or FastAPI; a CPU worker must not load torch
    out = _python("import sys, runtime, runtime.engines; runtime.engines.default_engine_registry().available(); "
                  "print(sorted(m for m in ('ray', 'fastapi', 'torch', 'tensorrt') if m in sys.modules))",
                  hidden={"ray", "fastapi", "tensorrt"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]"]


def _resolve(extra: str) -> set[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--report", "-", f".[{extra}]"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=RESOLVE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(cmd)}` took over {RESOLVE_TIMEOUT_S}s (is the package index reachable?)")
    if out.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` failed (exit {out.returncode}); the package index must be reachable "
                    f"for this test:\n{out.stderr[-3000:]}")
    report = json.loads(out.stdout)
    return {_norm(item["metadata"]["name"]) for item in report["install"]}


@pytest.mark.slow
@pytest.mark.parametrize(("extra", "expected"), [("cpu", "onnxruntime"), ("gpu", "onnxruntime-gpu")])
def test_resolution_installs_exactly_one_onnxruntime(extra, expected):
    names = _resolve(extra)
    assert names & ORT_WHEELS == {expected}, sorted(names & ORT_WHEELS)
    assert "city-algorithm-warehouse" in names
