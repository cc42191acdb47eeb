"""edgenas runtime: the lean part that runs on the edge device.

It owns the bundle format (the contract between search, compile and runtime) and latency
measurement; it imports no torch.
"""

__version__ = "0.1.0"
