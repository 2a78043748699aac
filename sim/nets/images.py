"""Real photographs that ship inside installed wheels, split into a profiling and a held-out set.

No image is downloaded: every photo comes from a package already installed by
``scripts/setup.sh --nets``.

=============  =====================================================================  =====
split          photos                                                                 count
=============  =====================================================================  =====
``profile``    ai-benchmark ``data/classification/0..99.jpg`` (ImageNet classes)       100
``heldout``    scikit-image, scikit-learn and matplotlib sample photos, then          138
               ai-benchmark ``data/segmentation`` street scenes and
               ``data/enhancement`` phone photos
=============  =====================================================================  =====

Precision profiles are searched on the ``profile`` split and their fidelity is reported on the
``heldout`` split, which shares no photo with it; evaluations run on ``heldout`` photos too, so
no cycle count is measured on an image the profile was fitted to.

A user's own photos (:func:`load_image_dir`) replace the held-out split for evaluation.
"""
from __future__ import annotations

import glob
import importlib.util
import os

import numpy as np

from ..errors import ConfigError

SPLITS = ("profile", "heldout")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def package_dir(name: str) -> str:
    """Folder of an installed package, found *without importing it*.

    Several weight/image packages import TensorFlow or OpenCV in their ``__init__``; only their
    files are needed.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"package {name!r} is not installed (run scripts/setup.sh --nets)")
    return spec.submodule_search_locations[0]


def _numbered(folder: str) -> list[str]:
    files = [f for f in glob.glob(os.path.join(folder, "*.jpg"))
             if os.path.basename(f)[:-4].isdigit()]  # skips segmentation masks ("0_segmented.jpg")
    return sorted(files, key=lambda f: int(os.path.basename(f)[:-4]))


def _aibench(sub: str) -> list[tuple[str, str]]:
    folder = os.path.join(package_dir("ai_benchmark"), "data", sub)
    return [(f"aibench.{sub}.{os.path.basename(f)[:-4]}", f) for f in _numbered(folder)]


# Sample photos bundled with scikit-image, scikit-learn and matplotlib, read straight from their
# files: importing scikit-learn or scikit-image just to load them costs several seconds.
LIBRARY_PHOTOS = (
    ("skimage.astronaut", "skimage", ("data", "astronaut.png")),
    ("skimage.coffee", "skimage", ("data", "coffee.png")),
    ("skimage.chelsea", "skimage", ("data", "chelsea.png")),
    ("skimage.rocket", "skimage", ("data", "rocket.jpg")),
    ("skimage.stereo_motorcycle", "skimage", ("data", "motorcycle_left.png")),
    ("sklearn.china", "sklearn", ("datasets", "images", "china.jpg")),
    ("sklearn.flower", "sklearn", ("datasets", "images", "flower.jpg")),
    ("matplotlib.grace_hopper", "matplotlib", ("mpl-data", "sample_data", "grace_hopper.jpg")),
)


def _library_photos() -> list[tuple[str, object]]:
    """(name, loader) of the sample photos bundled with scikit-image, scikit-learn, matplotlib."""
    return [(name, (lambda pkg=pkg, parts=parts: _read(os.path.join(package_dir(pkg), *parts))))
            for name, pkg, parts in LIBRARY_PHOTOS]


def _read(path: str) -> np.ndarray:
    """One photo as RGB uint8. A corrupt or truncated file, or one declaring more pixels than
    PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, about 89 million), is a
    :class:`ConfigError` naming the file, before its pixels are decoded."""
    import struct
    import warnings
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # PIL only warns between the limit and twice the limit: refuse those too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ConfigError(f"image {path} is too large to decode: {str(e).split('.')[0]} "
                          f"(limit {Image.MAX_IMAGE_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        # UnidentifiedImageError is an OSError; broken files raise any of these while decoding
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"cannot read image {path} ({why})") from None


def _split_sources(split: str) -> list[tuple[str, object]]:
    if split == "profile":
        return [(n, (lambda p=p: _read(p))) for n, p in _aibench("classification")]
    if split == "heldout":
        files = _aibench("segmentation") + _aibench("enhancement")
        return _library_photos() + [(n, (lambda p=p: _read(p))) for n, p in files]
    raise ConfigError(f"image split must be one of {', '.join(SPLITS)}, not {split!r}")


def image_names(split: str) -> list[str]:
    """Names of every photo of ``split`` in the order :func:`load_images` takes them."""
    return [n for n, _ in _split_sources(split)]


def load_images(split: str, count: int) -> list[tuple[str, np.ndarray]]:
    """The first ``count`` photos of ``split`` as ``(name, H x W x 3 uint8 RGB)``."""
    sources = _split_sources(split)
    _check_count(count, len(sources), f"the {split} split")
    return [(n, np.ascontiguousarray(load())) for n, load in sources[:count]]


def load_image_dir(path: str, count: int | None = None) -> list[tuple[str, np.ndarray]]:
    """A user's own photos: every image file of ``path`` in name order (the first ``count``)."""
    if not os.path.isdir(path):
        raise ConfigError(f"image folder not found: {path}")
    files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise ConfigError(f"image folder {path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    if count is not None:
        _check_count(count, len(files), f"image folder {path}")
        files = files[:count]
    return [(f, _read(os.path.join(path, f))) for f in files]


def _check_count(count, available: int, where: str) -> None:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError(f"image count must be a positive integer, not {count!r}")
    if count > available:
        raise ConfigError(f"{count} images requested but {where} has only {available}")


def resize_crop(image: np.ndarray, size: int, resize: int | None = None) -> np.ndarray:
    """Resize the shorter side to ``resize`` (default ``size * 8/7``, i.e. 256 for 224) and take
    the centre ``size x size`` crop; returns float32 RGB in ``0..255``, ``(size, size, 3)``."""
    from PIL import Image
    if not isinstance(size, int) or size < 8:
        raise ConfigError(f"input size must be an integer of at least 8 pixels, not {size!r}")
    resize = resize or round(size * 8 / 7)
    im = Image.fromarray(np.asarray(image, dtype=np.uint8))
    w, h = im.size
    s = resize / min(w, h)
    im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float32)


# Input normalisations of the networks, applied to ``resize_crop``'s RGB 0..255 output.
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
_CAFFE_BGR_MEAN = np.array([104.0, 117.0, 123.0], np.float32)
_HED_BGR_MEAN = np.array([104.00699, 116.66877, 122.67892], np.float32)

PREPROCESS = {
    "imagenet": "RGB/255, minus ImageNet mean, over ImageNet std (torchvision models)",
    "caffe": "BGR 0..255 minus (104, 117, 123) (Caffe VGG/ResNet models)",
    "hed": "BGR 0..255 minus (104.007, 116.669, 122.679) (HED)",
    "unit": "RGB/255 in 0..1",
    "symmetric": "RGB/127.5 - 1 in -1..1 (TF-slim / Inception style)",
}


def normalise(rgb: np.ndarray, kind: str) -> np.ndarray:
    """Apply the named input normalisation (see :data:`PREPROCESS`) to ``(H, W, 3)`` RGB 0..255."""
    if kind == "imagenet":
        return (rgb / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
    if kind == "caffe":
        return rgb[:, :, ::-1] - _CAFFE_BGR_MEAN
    if kind == "hed":
        return rgb[:, :, ::-1] - _HED_BGR_MEAN
    if kind == "unit":
        return rgb / 255.0
    if kind == "symmetric":
        return rgb / 127.5 - 1.0
    raise ConfigError(f"preprocessing must be one of {', '.join(PREPROCESS)}, not {kind!r}")
