#!/usr/bin/env bash
# The one prepared GPU run (issue 12): engine agreement tests + benchmarks.runtime_gpu --full,
# JSON and logs into one folder, well under 8 minutes.
#
#   scripts/gpu_check.sh prepare [BUNDLE]          here, with .venv: writes var/gpu_bundle (~32 MiB:
#                                                  backbone ONNX, head bank, vendored pure-Python deps)
#   scripts/gpu_check.sh [OUTDIR] [--cpu-dry-run]  on the GPU machine (or here first, on CPU)
#
# OUTDIR defaults to $OUT (the device tool's folder), else var/gpu_check. The GPU machine needs
# only python3 with torch (CUDA), torchvision, onnx, onnxruntime, numpy, OpenCV, scikit-image:
# no venv, Ray, FastAPI or TensorRT. Device call: carry ["var/gpu_bundle"], command
# `bash scripts/gpu_check.sh "$OUT"`. Without CUDA it runs the reduced CPU mode by itself.
# Exit status: 0 when both steps passed, else the first failing step's status.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [[ "${1:-}" == "prepare" ]]; then
  exec "${PYTHON:-.venv/bin/python}" scripts/gpu_bundle.py --out "${2:-var/gpu_bundle}"
fi

OUTDIR=""
DRY=0
for a in "$@"; do
  case "$a" in
    --cpu-dry-run) DRY=1 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) OUTDIR=$a ;;
  esac
done
OUTDIR=${OUTDIR:-${OUT:-var/gpu_check}}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
BUNDLE=${GPU_BUNDLE:-var/gpu_bundle}
PY=${PYTHON:-}
if [[ -z "$PY" ]]; then  # the interpreter that has torch (python3 on the GPU machine)
  for c in python3 python python3.12; do
    if command -v "$c" >/dev/null && "$c" -c "import torch" 2>/dev/null; then PY=$c; break; fi
  done
  PY=${PY:-python3}
fi
T0=$(date +%s)

if [[ -d "$BUNDLE/vendor" ]]; then
  BUNDLE=$(cd "$BUNDLE" && pwd)
  export PYTHONPATH="$ROOT:$BUNDLE/vendor${PYTHONPATH:+:$PYTHONPATH}"
  bb=("$BUNDLE"/backbone/*.onnx)
  export WAREHOUSE_BACKBONE_ONNX=${bb[0]}
  export WAREHOUSE_HEAD_BANK_DIR=$BUNDLE/heads
else
  # no bundle: this machine must export the backbone itself (the project's venv)
  echo "gpu_check: no bundle at $BUNDLE (run: scripts/gpu_check.sh prepare); using this environment" >&2
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
# only the plugins we name: the GPU machine may have others installed, and needs none
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
export PYTHONDONTWRITEBYTECODE=1

CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
if [[ "$CUDA" != "1" ]]; then DRY=1; fi
MODE=$([[ $DRY == 1 ]] && echo cpu-dry-run || echo gpu)
echo "gpu_check: mode=$MODE out=$OUTDIR python=$PY" | tee "$OUTDIR/gpu_check.log"

{
  date -u +%FT%TZ
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  "$PY" - <<'EOF'
import importlib, platform, sys
print("python", sys.version.split()[0], platform.platform())
for m in ("torch", "torchvision", "onnx", "onnxruntime", "numpy", "cv2", "skimage", "sqlalchemy", "pytest", "tensorrt"):
    try:
        mod = importlib.import_module(m)
        print(f"{m:12s} {getattr(mod, '__version__', '?'):14s} {getattr(mod, '__file__', '')}")
    except Exception as exc:  # noqa: BLE001 - a missing module is information here
        print(f"{m:12s} missing ({type(exc).__name__}: {exc})")
import torch
print("cuda", torch.cuda.is_available(), torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
} >"$OUTDIR/env.log" 2>&1

# 1. engine agreement (torch CUDA vs ONNX Runtime CPU, FP32 and FP16). Dry run: the same GPU
#    tests (they load the bundle's backbone and pictures, then skip) and the torch-on-CPU
#    agreement, so what they import is exercised in this environment
if [[ $DRY == 1 ]]; then MARK=(-k "gpu_engine_agrees or cuda_graph or torch_cpu_engine_agrees or device_path"); else MARK=(-m gpu); fi
timeout 200 "$PY" -m pytest tests/runtime/engines "${MARK[@]}" -p pytest_timeout -p no:cacheprovider \
  -q -rs -s --junitxml="$OUTDIR/pytest.xml" >"$OUTDIR/pytest.log" 2>&1
PYTEST_RC=$?
echo "gpu_check: pytest rc=$PYTEST_RC ($(( $(date +%s) - T0 ))s)" | tee -a "$OUTDIR/gpu_check.log"

# 2. the benchmark; its last stdout line is the JSON
BENCH_ARGS=(--full)
[[ $DRY == 1 ]] && BENCH_ARGS+=(--cpu-dry-run)
timeout 270 "$PY" -m benchmarks.runtime_gpu "${BENCH_ARGS[@]}" >"$OUTDIR/runtime_gpu.log" 2>&1
BENCH_RC=$?
grep '^{' "$OUTDIR/runtime_gpu.log" | tail -1 >"$OUTDIR/runtime_gpu.json"
if ! "$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$OUTDIR/runtime_gpu.json" 2>/dev/null; then
  [[ $BENCH_RC == 0 ]] && BENCH_RC=3  # ran but printed no JSON
fi
echo "gpu_check: runtime_gpu rc=$BENCH_RC ($(( $(date +%s) - T0 ))s)" | tee -a "$OUTDIR/gpu_check.log"

"$PY" - "$OUTDIR" "$MODE" "$PYTEST_RC" "$BENCH_RC" "$(( $(date +%s) - T0 ))" <<'EOF'
import json, sys
from pathlib import Path
out, mode, prc, brc, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
summary = {"mode": mode, "pytest_rc": prc, "runtime_gpu_rc": brc, "wall_s": secs,
           "files": sorted({p.name for p in Path(out).iterdir()} | {"summary.json"})}
try:
    summary["runtime_gpu"] = {k: v for k, v in json.loads(Path(out, "runtime_gpu.json").read_text()).items()
                              if k in ("engine", "device", "mode", "backbone_images_per_s", "streams_at_1fps",
                                       "ratio_to_roofline", "meets_goals")}
except Exception as exc:  # noqa: BLE001
    summary["runtime_gpu"] = f"no JSON: {exc}"
Path(out, "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary))
EOF
if [[ $PYTEST_RC != 0 ]]; then exit "$PYTEST_RC"; fi
exit "$BENCH_RC"
