"""Real photographs that ship inside installed packages, split into a profiling and a held-out set.

No image is downloaded at run time: every photo comes from a package that
``scripts/setup.sh --nets`` installs (PyPI wheels, and two Debian packages).

================  ===========================================================================  =====
source            photos                                                                        count
================  ===========================================================================  =====
``aibench``       ai-benchmark 0.1.2 ``data/classification`` (ImageNet-class photos, no labels:  230
                  the package draws random targets), ``data/enhancement`` (phone photos),
                  ``data/segmentation`` (street scenes; the ``*_segmented`` masks are skipped)
``skimage``       scikit-image sample photos (colour and grey-level; the stereo pair stays        16
                  together)
``sklearn``       scikit-learn ``china.jpg``, ``flower.jpg``                                        2
``matplotlib``    ``grace_hopper.jpg``                                                              1
``opencv``        Debian ``opencv-doc`` 4.6.0 example photos (logos, renders, paintings, charts     33
                  and calibration boards left out; stereo/flow pairs stay together)
``mate``          Debian ``mate-backgrounds`` 1.26.0 ``nature`` photos                              12
================  ===========================================================================  =====

Every photo belongs to exactly one split, fixed by its place in its source (pairs of nearly
identical photos share a group and a split): ``profile`` takes the even-numbered groups of every
source and ``heldout`` the odd ones, so both splits hold every kind of photo and no photo is in
both. Within a split the photos are interleaved across sources (round robin), so the first ``n``
of a split are as varied as ``n`` allows.

Precision profiles are searched on ``profile`` photos and judged on ``heldout`` photos;
evaluations run on ``heldout`` photos, so no cycle count is measured on a photo a profile was
fitted to. Augmented copies (:func:`augment`) may join a profiling set; they are never held out.

A user's folder (:func:`photos_in_dir`) is split the same way by :func:`split_photos`.

Decoding is guarded: an image larger than :data:`MAX_PIXELS` is refused before it is decoded
(PIL's decompression-bomb limit), and large JPEGs are decoded directly at a reduced scale.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
import glob
import hashlib
import importlib.util
import os
import warnings

import numpy as np

from ..checks import check_choice, check_integer
from ..errors import ConfigError

SPLITS = ("profile", "heldout")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
MAX_PIXELS = 64_000_000  # 8000 x 8000: larger images are refused without being decoded
AUGMENTATIONS = ("flip", "zoom", "shift")


@dataclass(frozen=True)
class Photo:
    """One photograph: where it is and how it is turned into pixels.

    ``key`` identifies the pixels (a digest of the file's bytes plus the augmentation), so
    caches stay valid when a file moves and are missed when it changes. ``label`` is the
    ImageNet class index where the source knows it (none of the shipped sources does).
    """

    name: str
    path: str = ""
    augment: str = ""
    label: int | None = None
    array: np.ndarray | None = None  # in-memory pixels (a caller's own array), no file

    @property
    def key(self) -> str:
        if self.array is not None:
            digest = hashlib.sha1(np.ascontiguousarray(self.array).tobytes()).hexdigest()
        else:
            digest = file_digest(self.path)
        return f"{digest[:20]}{'+' + self.augment if self.augment else ''}"

    def read(self, size_hint: int | None = None) -> np.ndarray:
        """``H x W x 3`` uint8 RGB (JPEGs are decoded at a reduced scale when ``size_hint``
        leaves room), with the augmentation applied."""
        im = np.asarray(self.array, np.uint8) if self.array is not None else read_image(self.path, size_hint)
        return apply_augment(im, self.augment) if self.augment else im

    def __hash__(self):
        return hash((self.name, self.path, self.augment))

    def __eq__(self, other):
        return isinstance(other, Photo) and (self.name, self.path, self.augment) == (
            other.name, other.path, other.augment) and (self.array is None) == (other.array is None) and (
            self.array is None or np.array_equal(self.array, other.array))


_DIGESTS: dict = {}


def file_digest(path: str) -> str:
    """SHA-1 of a file's bytes (hex), computed once per path, size and modification time."""
    st = os.stat(path)
    k = (path, st.st_size, st.st_mtime_ns)
    if k not in _DIGESTS:
        with open(path, "rb") as f:
            _DIGESTS[k] = hashlib.sha1(f.read()).hexdigest()
    return _DIGESTS[k]


def package_dir(name: str) -> str:
    """Folder of an installed package, found *without importing it*.

    Several weight/image packages import TensorFlow or OpenCV in their ``__init__``; only their
    files are needed.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"package {name!r} is not installed (run scripts/setup.sh --nets)")
    return spec.submodule_search_locations[0]


# ---------------------------------------------------------------------------- sources
def _numbered(folder: str) -> list[str]:
    files = [f for f in glob.glob(os.path.join(folder, "*.jpg"))
             if os.path.basename(f)[:-4].isdigit()]  # skips segmentation masks ("0_segmented.jpg")
    return sorted(files, key=lambda f: int(os.path.basename(f)[:-4]))


def _aibench(sub: str) -> list:
    folder = os.path.join(package_dir("ai_benchmark"), "data", sub)
    return [[(f"aibench.{sub}.{os.path.basename(f)[:-4]}", f)] for f in _numbered(folder)]


# (group of photos that must share a split) per source: (name, package, path inside it)
SKIMAGE = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg",
           ("motorcycle_left.png", "motorcycle_right.png"), "hubble_deep_field.jpg", "retina.jpg",
           "ihc.png", "camera.png", "coins.png", "moon.png", "brick.png", "grass.png", "gravel.png",
           "clock_motion.png")
OPENCV_DIR = "/usr/share/doc/opencv-doc/examples"
OPENCV = ("data/aero1.jpg", "data/baboon.jpg", ("data/aloeL.jpg", "data/aloeR.jpg"), "data/apple.jpg",
          ("data/basketball1.png", "data/basketball2.png"), "data/board.jpg", "data/box_in_scene.png",
          "data/building.jpg", "data/butterfly.jpg", "data/chicky_512.png", "data/ela_original.jpg",
          "data/fruits.jpg", ("data/graf1.png", "data/graf3.png"), "data/HappyFish.jpg", "data/home.jpg",
          ("data/leuvenA.jpg", "data/leuvenB.jpg"), "data/licenseplate_motion.jpg", "data/messi5.jpg",
          "data/orange.jpg", ("data/rubberwhale1.png", "data/rubberwhale2.png"), "data/smarties.png",
          "data/squirrel_cls.jpg", "data/stuff.jpg", "data/sudoku.png", ("data/left.jpg", "data/right.jpg"),
          "alphamat/input_images/plant.jpg", "hfs/data/000.jpg", "hfs/data/001.jpg", "hfs/data/002.jpg",
          "text/scenetext01.jpg", "text/scenetext02.jpg", "text/scenetext04.jpg", "text/scenetext06.jpg")
MATE_DIR = "/usr/share/backgrounds/mate/nature"
MATE = ("Aqua.jpg", "Blinds.jpg", "Dune.jpg", "FreshFlower.jpg", "Garden.jpg", "GreenMeadow.jpg",
        "LadyBird.jpg", "RainDrops.jpg", "Storm.jpg", "TwoWings.jpg", "Wood.jpg", "YellowFlower.jpg")


def _groups(prefix: str, folder: str, entries) -> list:
    out = []
    for e in entries:
        files = (e,) if isinstance(e, str) else e
        out.append([(f"{prefix}.{os.path.splitext(os.path.basename(f))[0]}", os.path.join(folder, f))
                    for f in files])
    return out


def _sources() -> dict:
    """``source -> [group of (name, path)]``; a Debian source missing on this machine is empty."""
    out = {"aibench.classification": _aibench("classification"),
           "aibench.enhancement": _aibench("enhancement"),
           "aibench.segmentation": _aibench("segmentation"),
           "skimage": _groups("skimage", os.path.join(package_dir("skimage"), "data"), SKIMAGE),
           "sklearn": _groups("sklearn", os.path.join(package_dir("sklearn"), "datasets", "images"),
                              ("china.jpg", "flower.jpg")),
           "matplotlib": _groups("matplotlib", os.path.join(package_dir("matplotlib"), "mpl-data", "sample_data"),
                                 ("grace_hopper.jpg",))}
    for src, folder, entries in (("opencv", OPENCV_DIR, OPENCV), ("mate", MATE_DIR, MATE)):
        groups = _groups(src, folder, entries)
        out[src] = [g for g in groups if all(os.path.isfile(p) for _, p in g)]
    return out


def _interleave(lists: list) -> list:
    out, i = [], 0
    while any(i < len(l) for l in lists):
        out += [l[i] for l in lists if i < len(l)]
        i += 1
    return out


_SPLIT_CACHE: dict = {}


def photos(split: str) -> list[Photo]:
    """Every photo of ``split`` (see the module docstring), interleaved across sources."""
    check_choice("image split", split, SPLITS)
    if split not in _SPLIT_CACHE:
        parity = SPLITS.index(split)
        per_source = []
        for groups in _sources().values():
            per_source.append([Photo(n, p) for g in groups[parity::2] for n, p in g])
        _SPLIT_CACHE[split] = _interleave(per_source)
    return list(_SPLIT_CACHE[split])


def image_names(split: str) -> list[str]:
    """Names of every photo of ``split`` in the order :func:`load_images` takes them."""
    return [p.name for p in photos(split)]


def take(split: str, count: int) -> list[Photo]:
    """The first ``count`` photos of ``split``; the count is checked first."""
    ps = photos(split)
    check_count(count, len(ps), f"the {split} split")
    return ps[:count]


def decoded(ps: list, size: int | None) -> list[tuple[str, np.ndarray]]:
    """``ps`` as ``(name, pixels)`` decoded for a network whose input is ``size`` pixels square.

    The one decoding rule of every command (``evaluate``, ``explore``, ``verify``, the
    benchmarks): a JPEG is decoded at the DCT scale :meth:`Photo.read` picks for ``size``, so the
    same photo gives the same codes wherever it is counted. A sentence's text is returned as is.
    """
    return [(p.name, np.ascontiguousarray(p.read(size)) if isinstance(p, Photo) else p.read(size)) for p in ps]


def load_images(split: str, count: int, size: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The first ``count`` photos of ``split`` as ``(name, H x W x 3 uint8 RGB)``, decoded for a
    network of input ``size`` (:func:`decoded`)."""
    return decoded(take(split, count), size)


def photos_in_dir(path: str) -> list[Photo]:
    """A user's own photos: every image file of ``path`` in name order (their contents are checked
    when they are read; :func:`check_photos` checks them up front)."""
    if not os.path.isdir(path):
        raise ConfigError(f"image folder not found: {path}")
    files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES)
                   and os.path.isfile(os.path.join(path, f)))
    if not files:
        raise ConfigError(f"image folder {path} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return [Photo(f, os.path.join(path, f)) for f in files]


def halves(ps: list[Photo], heldout: bool = True) -> tuple[list[Photo], list[Photo]]:
    """The profiling and held-out photos of one list (a user's folder): files at even places (in
    name order) profile, files at odd places are held out, so neither set is the folder's first or
    last few; without held-out photos (``heldout`` false) every file may profile."""
    return (ps[0::2], ps[1::2]) if heldout else (list(ps), [])


def split_photos(ps: list[Photo], profile: int, heldout: int, where: str) -> tuple[list, list]:
    """The first ``profile`` and ``heldout`` photos of the two :func:`halves` of ``ps``; counts are
    checked before anything is read."""
    prof, held = halves(ps, bool(heldout))
    check_count(heldout, len(held), f"{where} (held-out half: every second file)")
    check_count(profile, len(prof), f"{where} (profiling half: every second file)" if heldout else where)
    return prof[:profile], held[:heldout]


def check_count(count, available: int, where: str) -> None:
    check_integer("image count", count, minimum=0)
    if count > available:
        raise ConfigError(f"{count} images requested but {where} has only {available}")


def check_photos(ps: list[Photo]) -> None:
    """Open and fully decode every photo read from a file (a JPEG at its smallest scale, which
    still decodes all its data), before any long work.

    Raises
    ------
    ConfigError
        Naming the first file that is missing, empty, not an image, truncated, corrupt or larger
        than :data:`MAX_PIXELS`.
    """
    for p in ps:
        if p.array is None:
            _decode(p.path, smallest=True)


# ---------------------------------------------------------------------------- decoding
@contextlib.contextmanager
def _pil_guard():
    """PIL with :data:`MAX_PIXELS` as its own limit and its warnings off (a decompression-bomb
    warning, a corrupt EXIF block): an image is refused by this module's one-line errors or
    decoded, never warned about."""
    from PIL import Image
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL raises DecompressionBombError above 2x this
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield Image
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _unreadable(path: str, e: BaseException) -> ConfigError:
    """The one line for a photo PIL cannot open or decode."""
    from PIL import UnidentifiedImageError
    try:
        size = os.path.getsize(path)
    except OSError as err:
        return ConfigError(f"cannot read photo {path} ({err.strerror})")
    if size == 0:
        return ConfigError(f"photo {path} is empty (0 bytes)")
    if isinstance(e, UnidentifiedImageError):
        return ConfigError(f"photo {path} is not an image file ({size:,} bytes in no format the photo "
                           f"reader knows: {', '.join(IMAGE_SUFFIXES)})")
    if isinstance(e, OSError) and e.strerror:  # no permission, a disk error
        return ConfigError(f"cannot read photo {path} ({e.strerror})")
    reason = str(e).strip() or type(e).__name__
    return ConfigError(f"photo {path} is truncated or corrupt ({size:,} bytes; {reason})")


def _open_checked(path: str):
    """Open an image file (header only) and refuse it if it is too large to decode (call inside
    :func:`_pil_guard`)."""
    from PIL import Image
    try:
        im = Image.open(path)
    except Image.DecompressionBombError:
        raise ConfigError(f"photo {path} is a decompression bomb: more than {MAX_PIXELS:,} pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise _unreadable(path, e) from None
    w, h = im.size
    if w * h > MAX_PIXELS or w < 1 or h < 1:
        im.close()
        raise ConfigError(f"photo {path} is a decompression bomb: {w}x{h} pixels, more than "
                          f"{MAX_PIXELS:,}")
    return im


def _decode(path: str, size_hint: int | None = None, smallest: bool = False):
    """The decoded RGB image of ``path`` (a JPEG at the smallest DCT scale that keeps its shorter
    side at least twice ``size_hint``, or at 1/8 with ``smallest``)."""
    try:
        with _pil_guard():
            im = _open_checked(path)
            try:
                if im.format == "JPEG" and (size_hint or smallest):
                    w, h = im.size
                    s = 8 if smallest else min(w, h) / (2 * size_hint)
                    if s >= 2:
                        im.draft("RGB", (int(w / s) + 1, int(h / s) + 1))
                return im.convert("RGB")  # decodes every byte of the (first) frame
            except (OSError, ValueError, SyntaxError, EOFError) as e:
                raise _unreadable(path, e) from None
            finally:
                im.close()
    except MemoryError:
        raise ConfigError(f"photo {path} is too large to decode on this machine") from None


def read_image(path: str, size_hint: int | None = None) -> np.ndarray:
    """Decode an image file to ``H x W x 3`` uint8 RGB, never above :data:`MAX_PIXELS`.

    With ``size_hint``, a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps
    its shorter side at least twice ``size_hint``: the later resize sees the same detail."""
    return np.asarray(_decode(path, size_hint))


# ---------------------------------------------------------------------------- augmentation
def augment(ps: list[Photo], kinds=AUGMENTATIONS) -> list[Photo]:
    """Augmented copies of ``ps`` (for a profiling set only): ``flip`` mirrors left-right,
    ``zoom`` takes the centre 70 % (a closer view after the resize), ``shift`` takes the 80 %
    corner crop at the top left (another framing)."""
    for k in kinds:
        check_choice("augmentation", k, AUGMENTATIONS)
    return [Photo(f"{p.name}+{k}", p.path, k, p.label, p.array) for k in kinds for p in ps]


def apply_augment(im: np.ndarray, kind: str) -> np.ndarray:
    h, w = im.shape[:2]
    if kind == "flip":
        return np.ascontiguousarray(im[:, ::-1])
    if kind == "zoom":
        dh, dw = int(h * 0.15), int(w * 0.15)
        return np.ascontiguousarray(im[dh:h - dh, dw:w - dw])
    if kind == "shift":
        return np.ascontiguousarray(im[:int(h * 0.8), :int(w * 0.8)])
    check_choice("augmentation", kind, AUGMENTATIONS)
    raise AssertionError(f"augmentation {kind!r} has no rule")  # pragma: no cover


# ---------------------------------------------------------------------------- preprocessing
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
    check_choice("preprocessing", kind, PREPROCESS)
    raise AssertionError(f"preprocessing {kind!r} has no rule")  # pragma: no cover
