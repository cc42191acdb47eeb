"""edgenas search: search spaces, the weight-sharing supernet, latency prediction and NSGA-II."""
