"""The few-shot task: held-out pictures are disjoint, label draws are balanced, both learners run."""
from __future__ import annotations

import numpy as np
import pytest

from warehouse.training.few_shot import CLASSES, TEST_PICTURES, TRAIN_PICTURES, backbone_heads_predict, macro_f1, make_task, scratch_cnn_predict, subsample


def test_train_and_test_pictures_are_disjoint():
    assert not set(TRAIN_PICTURES) & set(TEST_PICTURES)


def test_task_is_balanced_and_half_real():
    task = make_task(train_per_class=4, test_per_class=2, seed=0)
    assert np.bincount(task.train_labels).tolist() == [4] * len(CLASSES)
    assert task.train_is_real.sum() == len(task.train_labels) // 2
    assert all(im.shape == (360, 640, 3) and im.dtype == np.uint8 for im in task.test_images)


@pytest.mark.parametrize("per_class", [1, 3])
def test_subsample_takes_per_class(per_class):
    labels = np.repeat(np.arange(4), 5)
    idx = subsample(labels, per_class, seed=0)
    assert np.bincount(labels[idx]).tolist() == [per_class] * 4


def test_backbone_heads_predict_separable_classes():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    emb = rng.normal(size=(40, 16)) + np.eye(4, 16)[y] * 6
    assert macro_f1(y, backbone_heads_predict(emb, y, emb)) > 0.95


def test_scratch_cnn_runs_and_predicts_every_test_frame():
    task = make_task(train_per_class=2, test_per_class=1, seed=1)
    pred = scratch_cnn_predict(task.train_images, task.train_labels, task.test_images, seed=0, epochs=1, input_hw=(32, 32))
    assert pred.shape == (len(task.test_images),) and set(pred.tolist()) <= set(range(len(CLASSES)))
