"""Frame preprocessing on the GPU (torch): resize and ImageNet-normalise uint8 frames, and
decode JPEG with nvJPEG through ``torchvision.io.decode_jpeg``.

The CPU path (``runtime.backbone.preprocess_bgr``: OpenCV ``INTER_AREA``, then a fused
multiply-add) costs more than the backbone itself once the backbone runs on a GPU, so the
GPU path moves the uint8 frames (a third of the float bytes) and does the rest there.
``mode="area"`` is PyTorch's area interpolation, the same idea as OpenCV's ``INTER_AREA``;
the two differ slightly at non-integer ratios (tests state the bound).

>>> x = preprocess_bgr_torch(frames_uint8_nhwc.cuda(), dtype=torch.float16)    # doctest: +SKIP
>>> x.shape                                                                    # doctest: +SKIP
torch.Size([64, 3, 224, 224])
"""
from __future__ import annotations

from typing import Sequence

from runtime.engines.base import EngineError

INPUT_HW = (224, 224)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def normalize_rgb_nchw(x, *, input_hw: tuple[int, int] = INPUT_HW, dtype=None, channels_last: bool = False):
    """RGB uint8 ``[N,3,H,W]`` (any device) -> resized, normalised ``[N,3,h,w]`` in ``dtype``."""
    import torch
    import torch.nn.functional as F

    if x.dim() != 4 or x.shape[1] != 3 or x.dtype != torch.uint8:
        raise EngineError(f"expected an RGB uint8 batch [N,3,H,W]; got {tuple(x.shape)} {x.dtype}")
    dtype = dtype or torch.float32
    h, w = input_hw
    y = x.to(dtype)
    if tuple(y.shape[2:]) != (h, w):
        y = F.interpolate(y, size=(h, w), mode="area")
    # (x/255 - mean)/std as one multiply-add per pixel, per channel
    scale = torch.tensor([1.0 / (255.0 * s) for s in _STD], dtype=dtype, device=y.device).view(1, 3, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(_MEAN, _STD)], dtype=dtype, device=y.device).view(1, 3, 1, 1)
    y = torch.addcmul(shift, y, scale)
    return y.contiguous(memory_format=torch.channels_last) if channels_last else y.contiguous()


def preprocess_bgr_torch(frames, *, input_hw: tuple[int, int] = INPUT_HW, dtype=None, channels_last: bool = False):
    """BGR uint8 frames ``[N,H,W,3]`` (as OpenCV decodes them) -> the backbone's input batch.

    The torch counterpart of ``runtime.backbone.preprocess_bgr``; runs where ``frames`` are.
    """
    if frames.dim() != 4 or frames.shape[3] != 3:
        raise EngineError(f"expected BGR uint8 frames [N,H,W,3]; got {tuple(frames.shape)} {frames.dtype}")
    rgb = frames.permute(0, 3, 1, 2).flip(1)
    return normalize_rgb_nchw(rgb, input_hw=input_hw, dtype=dtype, channels_last=channels_last)


def decode_jpeg_batch(blobs: Sequence[bytes], *, device: str = "cuda"):
    """JPEG files -> one RGB uint8 batch ``[N,3,H,W]`` on ``device`` (nvJPEG when CUDA).

    All images must share one size (frames of one camera resolution); the error names the
    first that does not.
    """
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg

    if not blobs:
        raise EngineError("decode_jpeg_batch got no images; pass at least one JPEG")
    datas = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    imgs = decode_jpeg(datas, mode=ImageReadMode.RGB, device=device)
    first = tuple(imgs[0].shape)
    for i, im in enumerate(imgs):
        if tuple(im.shape) != first:
            raise EngineError(f"JPEG {i} decodes to {tuple(im.shape)}, not {first} like JPEG 0; batch one resolution")
    return torch.stack(imgs)
