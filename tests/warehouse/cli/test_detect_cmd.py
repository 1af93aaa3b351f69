"""`warehouse detect`: a picture, a folder, a video; detections in the picture's pixels; errors."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.runtime.detectors._pictures import CAMERAMAN_PERSON_XYXY, iou, picture
from warehouse.cli import app


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("detect")
    cv2.imwrite(str(d / "camera.png"), picture("camera"))
    folder = d / "folder"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_camera.png"), picture("camera"))
    cv2.imwrite(str(folder / "b_motorcycle.jpg"), picture("motorcycle_left"))
    (folder / "notes.txt").write_text("not a picture")
    # a 6-frame video: the cameraman, then a blank street
    vw = cv2.VideoWriter(str(d / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for k in range(6):
        vw.write(picture("camera") if k < 3 else np.full((512, 512, 3), 90, np.uint8))
    vw.release()
    return d


def test_picture_json_in_its_own_pixels(media):
    r = CliRunner().invoke(app, ["detect", str(media / "camera.png"), "--json", "--min-score", "0.5"])
    assert r.exit_code == 0, r.output
    (rec,) = _json_lines(r.stdout)
    assert rec["frame"] == 0 and rec["image_wh"] == [512, 512] and rec["algorithm"] == "detector.coco_nanodet"
    (person,) = [d for d in rec["detections"] if d["label"] == "person"]
    assert person["score"] >= 0.7 and iou(person["xyxy"], CAMERAMAN_PERSON_XYXY) > 0.8  # 0.79 at 512 px (0.88 at 416x416)


def test_folder_pictures_only_in_order(media):
    r = CliRunner().invoke(app, ["detect", str(media / "folder"), "--json", "--min-score", "0.5"])
    assert r.exit_code == 0, r.output
    recs = _json_lines(r.stdout)
    assert [rec["frame"] for rec in recs] == [0, 1]
    assert [max(rec["detections"], key=lambda d: d["score"])["label"] for rec in recs] == ["person", "motorcycle"]


def test_video_every_nth_frame_text(media):
    r = CliRunner().invoke(app, ["detect", str(media / "clip.avi"), "--every", "2", "--min-score", "0.5"])
    assert r.exit_code == 0, r.output
    assert [ln.split(":")[0] for ln in r.stdout.splitlines() if ln.startswith("frame")] == ["frame 0", "frame 2", "frame 4"]
    assert "person 0.8" in r.stdout and "frame 4: 0 found" in r.stdout


def test_another_detector(media):
    r = CliRunner().invoke(app, ["detect", str(media / "camera.png"), "-a", "detector.face_mtcnn", "--json"])
    assert r.exit_code == 0, r.output
    faces = _json_lines(r.stdout)[0]["detections"]
    assert [d["label"] for d in faces] == ["face"] and len(faces[0]["landmarks"]) == 5


def test_city_algorithm_on_a_video_with_zones(media, tmp_path):
    zones = tmp_path / "zones.json"
    zones.write_text(json.dumps([{"name": "all", "kind": "no_pedestrian", "points_xy": [[0, 0], [512, 0], [512, 512], [0, 512]]}]))
    r = CliRunner().invoke(app, ["detect", str(media / "clip.avi"), "-a", "track.pedestrian_on_road", "--zones", str(zones), "--json"])
    assert r.exit_code == 0, r.output
    flagged = [len(rec["detections"]) for rec in _json_lines(r.stdout)]
    assert flagged == [1, 1, 1, 0, 0, 0]  # on the lawn from the first sighting; gone when blank


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["nowhere.png"], "does not exist"),
        (["{camera}", "-a", "detector.coco_nanodt"], "did you mean 'detector.coco_nanodet'"),
        (["{camera}", "-a", "track.loiter"], "unknown city algorithm 'track.loiter'"),
        (["{camera}", "-a", "imagenet.trashcan"], "unknown readout 'imagenet.trashcan'"),
        (["{camera}", "--every", "0"], "--every 0"),
        (["{notes}"], "cannot open"),
        (["{camera}", "-a", "track.loitering", "--zones", "{notes}"], "--zones"),
        ([], "give a PATH"),
    ],
)
def test_errors_one_line_exit_2(media, args, match):
    args = [a.format(camera=media / "camera.png", notes=media / "folder" / "notes.txt") for a in args]
    r = CliRunner().invoke(app, ["detect", *args])
    assert r.exit_code == 2 and match in r.output and "Traceback" not in r.output


def test_readout_on_the_backbone(media, backbone_cache, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    cv2.imwrite(str(media / "moto.png"), picture("motorcycle_left"))
    r = CliRunner().invoke(app, ["detect", str(media / "moto.png"), "-a", "imagenet.scooter", "--json"])
    assert r.exit_code == 0, r.output
    (det,) = _json_lines(r.stdout)[0]["detections"]
    assert det["label"] == "scooter" and det["score"] > 0.9 and det["xyxy"] == [0.0, 0.0, 741.0, 500.0]


def test_scene_head_from_the_catalog_prints_scores(media, tmp_path, backbone_cache, monkeypatch):
    from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx
    from warehouse.settings import Settings

    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    home = tmp_path / "home"
    home.mkdir()
    settings = Settings(home=home)
    store = ArtifactStore(settings.resolved_artifact_root)
    cat = Catalog.open(settings.resolved_catalog_url, store=store)
    alg = "scene.road.standing_water"
    cat.register_algorithm(AlgorithmSpec(id=alg, name="Standing water on the road", event_types=("standing_water",),
                                         scene_tags=("road",)))
    # a head whose bias alone decides: sigmoid(2.0) = 0.881 on any picture
    head = linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([2.0], np.float32), labels=[alg])
    v = cat.add_version(alg, artifact_sha256=store.put_bytes(head, suffix=".onnx"), stage=Stage.CANDIDATE)
    cat.promote(alg, v.number, to=Stage.PRODUCTION)
    cat.close()
    r = CliRunner().invoke(app, ["detect", str(media / "camera.png"), "-a", alg, "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    assert _json_lines(r.stdout)[0]["scores"] == {alg: 0.8808}
    r = CliRunner().invoke(app, ["detect", str(media / "camera.png"), "-a", "scene.road.smoke", "--home", str(home)])
    assert r.exit_code == 2 and "unknown algorithm 'scene.road.smoke'" in r.output  # the catalog's one-line error
