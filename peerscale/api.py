"""The front door's two functions, ``peerscale.read`` and ``peerscale.score``, for every kind of
input: a file or a pandas DataFrame (:func:`peerscale.responses.read`,
:func:`peerscale.scoring.score`), or a ``dask.dataframe.DataFrame``
(:mod:`peerscale.dask_support`: lazy scores through the same kernel, analyses as Dask
reductions). Dask is imported only when a dask frame is given.
"""

from __future__ import annotations


def is_dask_frame(obj) -> bool:
    """A ``dask.dataframe.DataFrame`` (told without importing dask)."""
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(obj, "map_partitions")


def read(source, instrument=None, **options):
    """:func:`peerscale.responses.read` (same parameters); a ``dask.dataframe.DataFrame`` gives a
    :class:`~peerscale.dask_support.DaskResponses` (``score()`` lazy; ``reliability()``,
    ``item_analysis()``, ``moments()`` as Dask reductions of mergeable statistics).

    Examples
    --------
    >>> import pandas as pd, peerscale
    >>> from peerscale.examples import path
    >>> peerscale.read(path("youth_export.csv"), "pbr-y").n_rows == len(pd.read_csv(path("youth_export.csv")))
    True
    """
    if is_dask_frame(source):
        from .dask_support import DaskResponses

        for unused in ("encoding", "sheet", "input_format"):
            options.pop(unused, None)
        return DaskResponses(source, instrument, **options)
    from .responses import read as read_export

    return read_export(source, instrument, **options)


def score(data, instrument, **kwargs):
    """:func:`peerscale.scoring.score` (same parameters); a ``dask.dataframe.DataFrame`` gives a
    lazy dask DataFrame of scores (``map_partitions`` of :func:`~peerscale.scoring.score_data`).

    Examples
    --------
    >>> import pandas as pd, peerscale
    >>> from peerscale.examples import path
    >>> export = pd.read_csv(path("youth_export.csv"))
    >>> peerscale.score(export, "pbr-y").shape[0] == len(export)
    True
    """
    if is_dask_frame(data):
        from .dask_support import score_dask

        return score_dask(data, instrument, **kwargs)
    from .scoring import score as score_frame

    return score_frame(data, instrument, **kwargs)
