"""Latency targets, measured latency data sets, the latency predictor, its baselines and its report.

Modules: ``targets`` (where a latency comes from), ``sample`` (stratified architecture samples),
``measure`` (resumable measuring loop), ``dataset`` (the latency CSV + metadata), ``features``
(chromosome encoding), ``predictor`` (MLP ensemble), ``baselines`` (FLOPs-linear, lookup table),
``report`` and ``plot`` (quality report). Nothing heavy is imported here.
"""
