"""The Dask client that the cluster options (:func:`.options.add_cluster_options`) name."""
from __future__ import annotations

from dstripes.sim.nets.cluster import dask_client


def dask_client_for(args):
    """``with dask_client_for(args) as client``: on ``--scheduler``, else on ``--jobs`` local
    worker processes (:func:`dstripes.sim.nets.cluster.dask_client`)."""
    return dask_client(args.scheduler, args.jobs)
