#!/usr/bin/env bash
# Fetch the real CCTV-style clip vtest.avi (768x576, 10 fps, 795 frames) from Debian's
# opencv-doc package, once, and print its cached path on stdout (nothing else goes to stdout).
#
#   path=$(bash scripts/fetch_vtest.sh)
#   path=$(bash scripts/fetch_vtest.sh --mjpg)   # an MJPG re-encode (for GStreamer's base/good
#                                                # plugins: the RTSP test server cannot decode MP43)
#   dir=$(bash scripts/fetch_vtest.sh --extras)  # the package's other real footage (3 short clips
#                                                # and 18 photos, see EXTRAS), for quiet-camera
#                                                # calibration and real negatives (issue 15)
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

mjpg=0 extras=0
case "${1:-}" in
  "") ;;
  --mjpg) mjpg=1 ;;
  --extras) extras=1 ;;
  *) echo "fetch_vtest: unknown option '$1'; usage: fetch_vtest.sh [--mjpg | --extras]" >&2; exit 2 ;;
esac

sha() { sha256sum "$1" | cut -d' ' -f1; }

# opencv-doc's other real footage, to <cache>/opencv-doc/ (name sha256 member; .gz members are
# gunzipped, the sha256 is of the result). Chosen by looking: real photographs and clips where no
# city event happens; left out: graf1/3 (graffiti is an event), messi5 (a stadium crowd),
# licenseplate_motion, Megamind (animation), drawings and test patterns.
extras_dir=$cache/opencv-doc
EXTRAS="tree.avi 4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc examples/data/tree.avi
box.mp4 62b744b99403f899707c43398a3822441add6160379ab6dd6c12bde9e3075f8d opencv4/html/box.mp4.gz
cup.mp4 37db9cee98f70b1458985a15ad2e5b0183e90e24c281b534afcf812e5986154f opencv4/html/cup.mp4.gz"
for f in building.jpg:742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07 \
         home.jpg:23b8cf46a1965d0ec33459b875aed43187802834db49e0daa9fa2cc842e9d8d2 \
         leuvenA.jpg:b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f \
         leuvenB.jpg:5bb41a60038a2baa5d8ea0eaba55e6e3050d721b254cf79d8d8998d7e49d664a \
         aero1.jpg:d9a69191f6e3642ea361bc3c62e677b2f40fe6534b78da540f4155e0734b59ef \
         aero3.jpg:1c407146f8762b3b14a7953ff9bc4c01ed64c467d7277122e769bf7e816017a4 \
         board.jpg:4c9a24ba67138ad5486d550f586cc5dd1161be112f1c1bea336d6c550cdf255f \
         fruits.jpg:9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1 \
         baboon.jpg:1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f \
         apple.jpg:e86879de3d9a807dedc742a8f464f39e6b74bbb531a1fba3583155d94997d1cd \
         butterfly.jpg:34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8 \
         aloeL.jpg:cce5736808efe80d9f04b118dbb978c344d4345672b332718c3e039a3eeb8eee \
         rubberwhale1.png:eb312435369dac9efcc92f7e098edbd9ed8d7e6dfede8b3b4d8e3702cd80b796 \
         box_in_scene.png:8b0225ff76244a42bd1400c0904f8b7afea7d97b7d8115495e42e98ad347bd51 \
         squirrel_cls.jpg:20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b \
         stuff.jpg:21cd00afbdd0727f445dd91c0a09633e6345ed5b05a3d2355453a1f3c314c6c5 \
         orange.jpg:152c20d2f380ac985de25e474e1a5f06ed34b932191342099b8272a63a15a079 \
         basketball1.png:ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6; do
  EXTRAS+=$'\n'"${f%%:*} ${f#*:} examples/data/${f%%:*}"
done

extras_cached() {
  local name want _m
  while read -r name want _m; do
    [[ -f $extras_dir/$name && "$(sha "$extras_dir/$name")" == "$want" ]] || return 1
  done <<<"$EXTRAS"
}

extract_extras() {  # from the downloaded .deb in $tmp, each checked, each moved in atomically
  local deb=$1 name want member got
  mkdir -p "$extras_dir"
  # one pass over the package's tar for all members
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" $(while read -r _ _ member; do echo "./usr/share/doc/opencv-doc/$member"; done <<<"$EXTRAS")
  while read -r name want member; do
    local src=$tmp/usr/share/doc/opencv-doc/$member
    if [[ $member == *.gz ]]; then gunzip -f "$src"; src=${src%.gz}; fi
    got=$(sha "$src")
    if [[ "$got" != "$want" ]]; then
      echo "fetch_vtest: $member from $(basename "$deb") has sha256 $got, expected $want;" \
           "the package changed: update EXTRAS in scripts/fetch_vtest.sh" >&2
      exit 1
    fi
    mv "$src" "$extras_dir/$name.part.$$"
    mv -f "$extras_dir/$name.part.$$" "$extras_dir/$name"
  done <<<"$EXTRAS"
}

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

if [[ -f $dest && "$(sha "$dest")" == "$want" ]] && { ((!extras)) || extras_cached; }; then
  if ((mjpg)); then to_mjpg; elif ((extras)); then echo "$extras_dir"; else echo "$dest"; fi
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
extract_extras "$deb"  # the same package: a download fetches both
if ((mjpg)); then to_mjpg; elif ((extras)); then echo "$extras_dir"; else echo "$dest"; fi
