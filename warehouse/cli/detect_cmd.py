"""``warehouse detect PATH [--algorithm ID] [--json]``: run a detector or a frame algorithm on a
picture, a folder of pictures or a video, and print what it finds.

    warehouse detect var/cache/real/vtest.avi --algorithm detector.coco_nanodet --every 10 --json
    warehouse detect photos/ --algorithm detector.face_mtcnn
    warehouse detect street.jpg --algorithm imagenet.trash_can            # a readout on the backbone
    warehouse detect street.jpg --algorithm scene.road.standing_water     # a catalog head: scores
    warehouse detect vtest.avi --algorithm track.pedestrian_on_road --zones zones.json --every 5

Detectors (``warehouse detect --list``) print ``label score [x1,y1,x2,y2]`` in the picture's own
pixels; frame algorithms (scene heads) print their score. ``--json`` prints one JSON object per
frame: ``{"source", "frame", "ts_ms", "detections": [{"label", "score", "xyxy", ...}]}`` (scene
heads: ``"scores"``). City algorithms (``track.*``) need a video or a folder and the camera's zones
(``--zones``, the operations store's JSON).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Iterator

import typer

from warehouse.cli._common import Home, errors_exit_2
from warehouse.errors import InvalidInputError

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")
DEFAULT_ALGORITHM = "detector.coco_nanodet"


def frames(path: Path, *, every: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, int, Any]]:
    """(frame index, ts_ms, BGR image) of a picture, a folder (sorted, pictures only) or a video."""
    import cv2

    if every < 1:
        raise InvalidInputError(f"--every {every}; expected 1 or more (1 = every frame)")
    if not path.exists():
        raise InvalidInputError(f"{str(path)!r} does not exist; give a picture, a folder of pictures or a video file")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES)
        if not files:
            raise InvalidInputError(f"folder {str(path)!r} holds no pictures ({', '.join(PICTURE_SUFFIXES)})")
        items = ((i, p) for i, p in enumerate(files) if i % every == 0)
        for n, (i, p) in enumerate(items):
            if max_frames is not None and n >= max_frames:
                return
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise InvalidInputError(f"cannot read picture {str(p)!r}; is it a valid image file?")
            yield i, i * 1000, img
        return
    if path.suffix.lower() in PICTURE_SUFFIXES:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise InvalidInputError(f"cannot read picture {str(path)!r}; is it a valid image file?")
        yield 0, 0, img
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InvalidInputError(f"cannot open {str(path)!r} as a picture or a video (suffixes: {', '.join(PICTURE_SUFFIXES + VIDEO_SUFFIXES)})")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    i = n = 0
    try:
        while max_frames is None or n < max_frames:
            ok, img = cap.read()
            if not ok:
                break
            if i % every == 0:
                yield i, int(round(i * 1000 / fps)), img
                n += 1
            i += 1
    finally:
        cap.release()
    if i == 0:
        raise InvalidInputError(f"video {str(path)!r} has no frame OpenCV can decode")


def _runner(algorithm: str, *, home: Path | None, zones: Path | None, threads: int):
    """A function frame -> (detections, scores) for ``algorithm``."""
    from runtime.detectors import DetectorError, default_detector_registry

    reg = default_detector_registry()
    if algorithm.startswith("track."):
        from runtime.tracking import CITY_ALGORITHMS, CityAlgorithm, TrackHub

        if algorithm not in CITY_ALGORITHMS:
            raise InvalidInputError(f"unknown city algorithm {algorithm!r}; valid: {', '.join(CITY_ALGORITHMS)}")
        hub = TrackHub(lambda: reg.create(DEFAULT_ALGORITHM, intra_op_threads=threads),
                       counter_factory=lambda: reg.create("detector.movenet_people", intra_op_threads=threads))
        try:
            hub.set_geometry("cli", json.loads(zones.read_text()) if zones is not None else None)
        except ValueError as exc:  # not JSON, or zones the runtime cannot use
            raise InvalidInputError(f"--zones {str(zones)!r}: {exc}; expected the camera's zones/lines JSON") from None
        algo = CityAlgorithm(algorithm, hub)
        return lambda fe: (algo.detect_frame(fe), None)
    if algorithm.startswith("scene."):
        return _scene_head(algorithm, home=home, threads=threads)
    if algorithm.startswith("imagenet.") and algorithm != "imagenet.readout":
        from runtime import Backbone
        from runtime.detectors import CITY_READOUT_CLASSES, ImagenetReadout, ImagenetReadoutDetector
        from warehouse.settings import Settings
        from warehouse.training.backbone_export import ensure_backbone_onnx

        slug = algorithm.split(".", 1)[1]
        classes = [c for c in CITY_READOUT_CLASSES if c.slug == slug]
        if not classes:
            raise InvalidInputError(f"unknown readout {algorithm!r}; valid: {', '.join('imagenet.' + c.slug for c in CITY_READOUT_CLASSES)}")
        settings = Settings(home=home) if home is not None else Settings()
        bb = Backbone.load(ensure_backbone_onnx(settings.resolved_cache_dir), intra_op_threads=threads)
        det = ImagenetReadoutDetector(bb, ImagenetReadout(bb.info.imagenet_labels, classes, min_score=0.0))
        return lambda fe: (det.detect(fe.image), None)
    try:
        kw = {"intra_op_threads": threads} if algorithm in ("detector.coco_nanodet", "detector.face_mtcnn") else {}
        det = reg.create(algorithm, **kw)
    except DetectorError as exc:  # unknown name (lists the valid ones) or weights missing (names the fix)
        raise InvalidInputError(str(exc)) from None
    return lambda fe: (det.detect(fe.image), None)


def _scene_head(algorithm: str, *, home: Path | None, threads: int):
    from catalog import ArtifactStore, Catalog
    from runtime import Backbone, HeadBank
    from warehouse.settings import Settings
    from warehouse.training.backbone_export import ensure_backbone_onnx

    settings = Settings(home=home) if home is not None else Settings()
    cat = Catalog.open(settings.resolved_catalog_url, store=ArtifactStore(settings.resolved_artifact_root))
    version = cat.production_version(algorithm)
    if version is None:
        raise InvalidInputError(f"{algorithm!r} has no production version in the catalog at {settings.resolved_catalog_url}; "
                                "build it (`warehouse catalog build`) or pass --home")
    bank = HeadBank({algorithm: cat.load_artifact(algorithm, version.number)})
    bb = Backbone.load(ensure_backbone_onnx(settings.resolved_cache_dir), intra_op_threads=threads)

    def run(fe):
        _, emb = bb.embed_frames([fe.image])
        return [], {algorithm: round(float(bank.score(emb, [{algorithm}])[0].scores(algorithm)[0]), 4)}

    return run


def _list() -> list[str]:
    from runtime.detectors import CITY_READOUT_CLASSES, default_detector_registry
    from runtime.tracking import CITY_ALGORITHMS

    names = [n for n in default_detector_registry().names() if n != "imagenet.readout"]
    return names + ["imagenet." + c.slug for c in CITY_READOUT_CLASSES] + list(CITY_ALGORITHMS) + ["scene.<scene>.<event> (catalog heads)"]


def register(root: typer.Typer) -> None:
    @root.command("detect")
    @errors_exit_2
    def detect_cmd(
        path: Annotated[Path | None, typer.Argument(help="A picture, a folder of pictures or a video file.")] = None,
        algorithm: Annotated[str, typer.Option("--algorithm", "-a", help="Detector or frame algorithm id.")] = DEFAULT_ALGORITHM,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per frame on stdout.")] = False,
        every: Annotated[int, typer.Option("--every", help="Videos and folders: every N-th frame.")] = 1,
        max_frames: Annotated[int | None, typer.Option("--max-frames", help="Stop after this many frames.")] = None,
        min_score: Annotated[float, typer.Option("--min-score", help="Hide detections scoring below this.")] = 0.0,
        zones: Annotated[Path | None, typer.Option("--zones", help="City algorithms: the camera's zones/lines JSON.")] = None,
        threads: Annotated[int, typer.Option("--threads", help="ONNX Runtime threads (0 = all cores).")] = 0,
        list_all: Annotated[bool, typer.Option("--list", help="List the algorithm ids and exit.")] = False,
        home: Home = None,
    ) -> None:
        """Run a registered detector or frame algorithm on a picture, a folder or a video."""
        from runtime import FrameEvent

        if list_all:
            typer.echo("\n".join(_list()))
            return
        if path is None:
            raise InvalidInputError("give a PATH (a picture, a folder of pictures or a video), or --list")
        if zones is not None and not zones.is_file():
            raise InvalidInputError(f"--zones {str(zones)!r} is not a file; give the camera's zones JSON")
        run = _runner(algorithm, home=home, zones=zones, threads=threads)
        count = 0
        for idx, ts_ms, img in frames(path, every=every, max_frames=max_frames):
            dets, scores = run(FrameEvent("cli", idx, ts_ms, img))
            dets = [d for d in dets if d.score >= min_score]
            count += 1
            if as_json:
                rec: dict[str, Any] = {"source": str(path), "frame": idx, "ts_ms": ts_ms, "algorithm": algorithm,
                                       "image_wh": [int(img.shape[1]), int(img.shape[0])]}
                if scores is not None:
                    rec["scores"] = scores
                else:
                    rec["detections"] = [{**d.to_dict(), "xyxy": [round(v, 1) for v in d.xyxy], "score": round(d.score, 4)}
                                         for d in dets]
                sys.stdout.write(json.dumps(rec) + "\n")
            elif scores is not None:
                typer.echo(f"frame {idx}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            else:
                typer.echo(f"frame {idx}: {len(dets)} found" + "".join(f"\n  {d}" for d in dets))
        if count == 0:
            raise InvalidInputError(f"{str(path)!r}: no frame to run on (check --every / --max-frames)")
