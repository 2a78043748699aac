"""Real networks: front-ends, precision profiles and whole-network cycle evaluation.

==================  ==========================================================================
module              holds
==================  ==========================================================================
``images``          real photos shipped in wheels (profiling / held-out splits), preprocessing
``network``         the front-end interface (:class:`Network`, :class:`Quant`)
``torch_capture``   PyTorch models through forward pre-hooks
``onnx_capture``    any ONNX model through onnxruntime
``models``          the built-in networks and :func:`load_network`
``fidelity``        output fidelity criteria and the "100" / "99" thresholds
``profile``         Stripes-style per-layer precision profiles (JSON files)
``make_profiles``   regenerates the shipped profiles in ``sim/data/profiles``
``evaluate``        cycles of every scheme per layer and network
``report``          terminal rows, ``report.md``, ``layers.csv``, ``summary.json``
``plots``           PNG plots
``paper``           measured vs published speedups
==================  ==========================================================================

Only numpy is imported here; PyTorch, onnx and onnxruntime (the ``nets`` extra) are imported
by the modules that need them, when they need them.
"""
