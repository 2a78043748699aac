"""Verification hardware (Amaranth), never part of the accelerator: the memory-backed harness
that drives and checks a tile in simulation (:mod:`.tile_harness`, with the behavioural memory
models of ``tb/gateware/mem_models.v``). The formal proofs' harnesses live in
:mod:`dstripes.tb.formal`. See :mod:`dstripes.tb` for the map.
"""
