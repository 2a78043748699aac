"""Real networks: front-ends, precision profiles and whole-network cycle evaluation.

==================  ==========================================================================
module              holds
==================  ==========================================================================
``images``          real photos shipped in packages (disjoint profiling / held-out splits), a user's
                    folder split the same way, guarded decoding, augmentation, preprocessing
``network``         the front-end interface (:class:`Network`, :class:`Quant`)
``torch_capture``   PyTorch models through forward pre-hooks
``onnx_capture``    any ONNX model through onnxruntime
``models``          the built-in networks and :func:`load_network`
``fidelity``        output fidelity criteria and the "100" / "99" thresholds
``cluster``         independent tasks on Dask (the testbenches, synthesis and the commands use it too)
``runs``            a network's captures and quantised runs on many photos, on Dask workers
``cache``           the on-disk run cache (captures and quantised runs per photo), SQLite
``headroom``        the profile search's room rules (headroom above the activations seen, margins)
``profile``         per-layer precision profiles (JSON files), judged on held-out photos
``evaluate``        cycles of every scheme per layer, photo and network
``chain``           the network as a chain of integer layers (the accelerator end to end) and its fidelity
``dump``            real activation codes and weights per layer as .npy for ``cycles``/``simulate``
``report``          terminal rows, ``report.md``, ``layers.csv``, ``summary.json``
``plots``           PNG plots
``paper``           measured vs published speedups
==================  ==========================================================================

The shipped profiles in ``sim/data/profiles`` are made by ``scripts/make/profiles.py`` (not part
of the package; run from the checkout).

Only numpy is imported here; PyTorch, onnx and onnxruntime (the ``nets`` extra) are imported
by the modules that need them, when they need them.
"""
