"""Real frames: package pictures split by picture, vtest read without leaking its held-out half."""
from __future__ import annotations

import numpy as np
import pytest

from catalog.synthetic import SyntheticCamera
from warehouse.training.real_frames import (
    PICTURE_SPLITS,
    VTEST_CALIBRATE,
    VTEST_FIT,
    VTEST_HELDOUT,
    VTEST_TRAIN,
    RealFramesError,
    package_pictures,
    picture_crops,
    read_video_frames,
    vtest_path,
)


def test_the_halves_and_their_parts_do_not_overlap():
    assert set(VTEST_FIT) | set(VTEST_CALIBRATE) == set(VTEST_TRAIN) and not set(VTEST_FIT) & set(VTEST_CALIBRATE)
    assert not set(VTEST_TRAIN) & set(VTEST_HELDOUT) and len(VTEST_TRAIN) + len(VTEST_HELDOUT) == 795


def test_pictures_are_split_by_picture_and_load_as_bgr():
    names = [n for v in PICTURE_SPLITS.values() for n in v]
    assert len(names) == len(set(names))  # no picture in two splits
    for split in PICTURE_SPLITS:
        for name, img in package_pictures(split):
            assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8, name


def test_crops_are_deterministic_and_sized():
    (_, img), *_ = package_pictures("train")
    a, b = picture_crops(img, 3, seed=1, size_hw=(120, 200)), picture_crops(img, 3, seed=1, size_hw=(120, 200))
    assert all(x.shape == (120, 200, 3) for x in a) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def fake_vtest(tmp_path_factory):
    # a short synthetic clip under vtest's name: the guard keys on the name, so no real file is needed
    path = tmp_path_factory.mktemp("real") / "vtest.avi"
    return SyntheticCamera("road", seed=2, fps=10, size_hw=(96, 128)).write_video(path, 12)


def test_training_reads_only_the_training_half(fake_vtest):
    frames = read_video_frames(fake_vtest, [3, 1, 3])
    assert len(frames) == 2 and frames[0].shape == (96, 128, 3)
    with pytest.raises(RealFramesError, match="frame 398 of 'vtest.avi' is in the held-out half"):
        read_video_frames(fake_vtest, [5, 398])


@pytest.mark.parametrize(
    "indices,purpose,match",
    [
        ([20], "measure", "ended at frame 12"),  # past the end of the clip
        ([-1], "train", "negative"),  # negative index
        ([1], "peek", "purpose 'peek' is unknown"),  # unknown purpose
    ],
)
def test_bad_reads_are_refused(fake_vtest, indices, purpose, match):
    with pytest.raises(RealFramesError, match=match):
        read_video_frames(fake_vtest, indices, purpose=purpose)


def test_missing_vtest_names_the_fetch_script(tmp_path):
    with pytest.raises(RealFramesError, match="scripts/fetch_vtest.sh"):
        vtest_path(tmp_path)


def test_opencv_doc_extras_split_by_picture_and_clips_by_time():
    from warehouse.training.real_frames import OPENCV_DOC_CLIPS, OPENCV_DOC_PICTURE_SPLITS, clip_halves

    names = [n for v in OPENCV_DOC_PICTURE_SPLITS.values() for n in v]
    assert len(names) == len(set(names)) and not set(names) & {n for v in PICTURE_SPLITS.values() for n in v}
    for name, n in OPENCV_DOC_CLIPS.items():
        fit, cal = clip_halves(name)
        assert not set(fit) & set(cal) and len(fit) + len(cal) == n and fit.stop == cal.start  # train strictly before calibrate


def test_opencv_doc_clips_resample_to_10_fps_and_pictures_load():
    """The fetched extras (``fetch_vtest.sh --extras``): each clip gives its pinned frame count at 10 fps."""
    from warehouse.training.real_frames import OPENCV_DOC_CLIPS, OPENCV_DOC_PICTURE_SPLITS, package_picture, read_clip

    for name, n in OPENCV_DOC_CLIPS.items():
        frames = read_clip(name)
        assert len(frames) == n and frames[0].dtype == np.uint8 and frames[0].ndim == 3
        assert not np.array_equal(frames[0], frames[-1])  # real motion, not one frame repeated
    for split, names in OPENCV_DOC_PICTURE_SPLITS.items():
        im = package_picture("opencv-doc:" + names[0])
        assert im.dtype == np.uint8 and im.shape[2] == 3 and min(im.shape[:2]) >= 200


def test_missing_opencv_doc_extras_name_the_fetch(tmp_path):
    from warehouse.training.real_frames import opencv_doc_dir, package_picture

    with pytest.raises(RealFramesError, match="fetch_vtest.sh --extras"):
        opencv_doc_dir(tmp_path)
    with pytest.raises(RealFramesError, match="fetch_vtest.sh --extras"):
        package_picture("opencv-doc:leuvenA.jpg", tmp_path)
