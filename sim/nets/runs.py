"""A network's runs on many photos: float captures and quantised runs, on Dask, through the cache.

:class:`Runner` is what profiling and evaluation call. Photos are cut into chunks; each chunk is
one Dask task (:mod:`.cluster`) that rebuilds the network in the worker from its ``spec`` (the
arguments of :func:`.models.load_network`, kept once per worker process), reads and prepares its
photos (kept per worker too) and returns small results: per photo the output and each layer's
input range (a capture), or the per-image measurements of a quantised run
(:func:`.fidelity.measure`). Results already in the cache (:mod:`.cache`) are not recomputed.

Without a Dask client, or for a network that cannot be rebuilt from a spec (a model object made
in this process), the same chunks run here, one after the other.
"""
from __future__ import annotations

from collections import OrderedDict
import os

from distributed import get_worker
import numpy as np
from tqdm import tqdm

from ..frozen import FrozenMap
from .cache import Capture, RunCache, digest, quant_key
from .cluster import run_tasks
from .fidelity import Scores, measure
from .images import Photo
from .models import identity, load_network
from .texts import Sentence

CHUNK = 8  # photos per task

_NETS: dict = {}
_PREP: OrderedDict = OrderedDict()
_PREP_BYTES = [0]
PREP_LIMIT = 768 << 20  # prepared inputs kept per process


def as_photos(images) -> list[Photo]:
    """Photos from :class:`.images.Photo` objects or ``(name, RGB array)`` pairs; sentences
    (:class:`.texts.Sentence`) pass as they are (a text network's samples)."""
    out = []
    for im in images:
        if isinstance(im, (Photo, Sentence)):
            out.append(im)
        else:
            name, arr = im
            out.append(Photo(str(name), array=np.asarray(arr, np.uint8)))
    return out


def _in_worker() -> bool:
    try:
        get_worker()
        return True
    except ValueError:
        return False


def worker_net(spec: dict):
    """The network of ``spec`` in this process (built once)."""
    k = repr(sorted(spec.items()))
    if k not in _NETS:
        if _in_worker():
            os.environ.setdefault("DSTRIPES_ORT_THREADS", "1")  # one core per worker process
        _NETS[k] = load_network(**spec)
    return _NETS[k]


def prepared(net, netkey: str, photos: list[Photo]) -> np.ndarray:
    """Model input batch of ``photos``, each prepared once per process."""
    parts = []
    for p in photos:
        k = (netkey, p.key)
        if k in _PREP:
            _PREP.move_to_end(k)
        else:
            x = net.prepare([p.read(net.size)])
            _PREP[k] = x
            _PREP_BYTES[0] += x.nbytes
            while _PREP_BYTES[0] > PREP_LIMIT and len(_PREP) > 1:
                _, old = _PREP.popitem(last=False)
                _PREP_BYTES[0] -= old.nbytes
        parts.append(_PREP[k])
    return np.concatenate(parts)


def work(net, netkey: str, photos: list[Photo], quant: dict | None, refs: list | None):
    """One chunk: a capture (``quant is None``) or a quantised run measured against ``refs``."""
    batch = prepared(net, netkey, photos)
    if quant is None:
        run = net.forward(batch, capture=True)
        names = net.layer_names()
        mx = np.array([[float(np.abs(run.acts[n][i]).max()) for n in names] for i in range(len(photos))])
        mn = np.array([[float(run.acts[n][i].min()) for n in names] for i in range(len(photos))])
        return [Capture(run.output[i].astype(np.float32), mx[i], mn[i]) for i in range(len(photos))]
    out = net.forward(batch, quant).output
    return measure(np.stack(refs), out)


def _task(item):
    spec, netkey, photos, quant, refs = item
    return work(worker_net(spec), netkey, photos, quant, refs)


def spec_of(net) -> tuple:
    """``(spec, identity)`` of a network a worker can rebuild (``(None, None)`` otherwise): set by
    :func:`.models.load_network`, or derived for an ONNX network read from a file."""
    spec = getattr(net, "spec", None)
    if spec is not None:
        return spec, getattr(net, "identity", None)
    path = getattr(net, "path", None)
    if isinstance(path, str) and os.path.isfile(path) and net.name == os.path.splitext(os.path.basename(path))[0]:
        return ({"model": path, "size": net.size, "preprocess": net.preprocess, "criterion": net.criterion,
                 "engine": "onnx"}, identity(path, net.size, "onnx"))
    return None, None


class Runner:
    """Runs of ``net`` on photos: on the Dask ``client`` if given, through ``cache``.

    Parameters
    ----------
    net : Network
        Built by :func:`.models.load_network` (it carries ``spec`` and ``identity``) to run on
        Dask workers; any other network runs in this process.
    client : dask.distributed.Client, optional
    cache : RunCache, optional
        Default: the user's cache file (:mod:`.cache`); ``RunCache(None)`` keeps nothing.
    """

    def __init__(self, net, client=None, cache: RunCache | None = None, progress: bool = True,
                 chunk: int = CHUNK):
        self.net, self.progress, self.chunk = net, progress, chunk
        spec, ident = spec_of(net)
        self.client = client if spec is not None else None
        self.spec = spec
        self.cache = cache if cache is not None else RunCache()
        if ident is None:
            self.cache = RunCache(None)  # an in-memory model has no stable identity
        self.netkey = digest(f"{ident}|{net.name}|{net.size}|{net.preprocess}|{net.layer_names()}")
        self.runs = 0
        self.computed = 0

    def _chunks(self, photos):
        return [photos[i:i + self.chunk] for i in range(0, len(photos), self.chunk)]

    def _execute(self, items: list, desc: str, done=None) -> list:
        """Results of ``work`` on each ``(photos, quant, refs)`` item, in order; ``done(i, result)``
        is called as each finishes (so the cache keeps what an interrupted run did)."""
        out = [None] * len(items)
        if self.client is not None and items:
            payload = [(self.spec, self.netkey, p, q, r) for p, q, r in items]
            results = run_tasks(self.client, _task, payload, desc=desc, progress=self.progress)
        else:
            bar = tqdm(items, desc=desc, unit="task", leave=False,
                       disable=None if self.progress and len(items) > 1 else True)
            results = ((i, work(self.net, self.netkey, p, q, r)) for i, (p, q, r) in enumerate(bar))
        for i, res in results:
            out[i] = res
            if done is not None:
                done(i, res)
        return out

    def capture(self, photos: list[Photo], desc: str = "capture") -> FrozenMap[str, Capture]:
        """The float capture of each photo, by photo key (from the cache where it is there)."""
        keys = [p.key for p in photos]
        have = dict(self.cache.get_captures(self.netkey, keys))
        todo = [p for p in dict.fromkeys(photos) if p.key not in have]
        if todo:
            items = [(c, None, None) for c in self._chunks(todo)]

            def done(i, res):
                new = {p.key: r for p, r in zip(items[i][0], res)}
                self.cache.put_captures(self.netkey, new)
                have.update(new)
            self._execute(items, desc, done)
            self.computed += len(todo)
        return FrozenMap((k, have[k]) for k in keys)

    def measure(self, photos: list[Photo], quants: list[dict], refs: dict, desc: str = "runs") -> list:
        """For each quantisation, the ``(N, 5)`` :func:`.fidelity.measure` rows of ``photos``."""
        keys = [p.key for p in photos]
        results, items, where = [], [], []
        for qi, quant in enumerate(quants):
            qk = quant_key(quant)
            have = dict(self.cache.get_runs(self.netkey, qk, keys))
            results.append((qk, have))
            todo = [p for p in dict.fromkeys(photos) if p.key not in have]
            for c in self._chunks(todo):
                items.append((c, quant, [refs[p.key] for p in c]))
                where.append(qi)
        if items:
            def done(i, rows):
                qk, have = results[where[i]]
                add = {p.key: Scores.of(row) for p, row in zip(items[i][0], rows)}
                self.cache.put_runs(self.netkey, qk, add)
                have.update(add)
            self._execute(items, desc, done)
            self.computed += len(items)
        self.runs += len(quants)
        return [np.array([have[k] for k in keys], dtype=np.float64).reshape(len(keys), 5)
                for _, have in results]
