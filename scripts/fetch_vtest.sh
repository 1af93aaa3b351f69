#!/usr/bin/env bash
# Fetch the real CCTV-style clip vtest.avi (768x576, 10 fps, 795 frames) from Debian's
# opencv-doc package, once, and print its cached path on stdout (nothing else goes to stdout).
#
#   path=$(bash scripts/fetch_vtest.sh)
#   path=$(bash scripts/fetch_vtest.sh --mjpg)   # an MJPG re-encode (for GStreamer's base/good
#                                                # plugins: the RTSP test server cannot decode MP43)
#
# Cache: ${WAREHOUSE_CACHE_DIR:-<repo>/var/cache}/real/vtest.avi, checked against its sha256.
# Fast and offline when cached. Licence: Apache-2.0 AND BSD-3-Clause (opencv-doc's
# debian/copyright, "Files: *"); see NOTICE. Frames 0-397 are the training half, 398-794 the
# held-out half (never train on them).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${WAREHOUSE_CACHE_DIR:-$repo/var/cache}/real
dest=$cache/vtest.avi
want=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
member=./usr/share/doc/opencv-doc/examples/data/vtest.avi

mjpg=0
case "${1:-}" in
  "") ;;
  --mjpg) mjpg=1 ;;
  *) echo "fetch_vtest: unknown option '$1'; usage: fetch_vtest.sh [--mjpg]" >&2; exit 2 ;;
esac

sha() { sha256sum "$1" | cut -d' ' -f1; }

to_mjpg() {  # vtest-mjpg.avi next to vtest.avi, re-encoded once with the venv's OpenCV (JPEG q95)
  local out=$cache/vtest-mjpg.avi py=${PYTHON:-$repo/.venv/bin/python}
  if [[ ! -f $out ]]; then
    "$py" - "$dest" "$out.part.$$.avi" <<'PY' >&2
import sys, cv2
src, dst = sys.argv[1], sys.argv[2]
cap = cv2.VideoCapture(src)
fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
out = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
out.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
n = 0
while True:
    ok, frame = cap.read()
    if not ok:
        break
    out.write(frame)
    n += 1
out.release()
if n != 795:
    sys.exit(f"fetch_vtest: re-encoded {n} frames of {src}, expected 795")
PY
    mv -f "$out.part.$$.avi" "$out"
  fi
  echo "$out"
}

if [[ -f $dest && "$(sha "$dest")" == "$want" ]]; then
  if ((mjpg)); then to_mjpg; else echo "$dest"; fi
  exit 0
fi

for tool in apt-get dpkg-deb tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "fetch_vtest: '$tool' not found (needs a Debian/Ubuntu machine with apt)" >&2
    exit 1
  }
done

mkdir -p "$cache"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch_vtest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # let apt's _apt user write there when run as root

download() { (cd "$tmp" && apt-get download -q opencv-doc >&2); }
if ! download; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "fetch_vtest: apt-get update, then retry the download" >&2
    apt-get update -qq >&2
    download
  else
    echo "fetch_vtest: 'apt-get download opencv-doc' failed; run 'sudo apt-get update' and retry" >&2
    exit 1
  fi
fi
deb=$(ls "$tmp"/opencv-doc_*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "$member"
got=$(sha "$tmp/$member")
if [[ "$got" != "$want" ]]; then
  echo "fetch_vtest: vtest.avi from $(basename "$deb") has sha256 $got, expected $want;" \
       "the package changed: check the new file and update 'want' in scripts/fetch_vtest.sh" >&2
  exit 1
fi
# atomic: a reader never sees a half-written file
mv "$tmp/$member" "$dest.part.$$"
mv -f "$dest.part.$$" "$dest"
if ((mjpg)); then to_mjpg; else echo "$dest"; fi
