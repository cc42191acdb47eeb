"""Fake Hailo Dataflow Compiler (``hailo_sdk_client``, DFC 3.x API) for tests. NOT Hailo's code.

It models the documented API surface (reference/hailo.md §1, §6): ``ClientRunner(hw_arch=, har=)``,
``translate_onnx_model``, ``load_model_script``, ``optimize_full_precision``, ``optimize``,
``compile`` (returns fake HEF bytes, tests/fakes/fakehef.py), ``save_har``/``load_har``,
``get_hn_dict``, ``state``, ``infer_context``/``infer`` and ``profile``. Outputs are computed by
running the (cut) ONNX model with ONNX Runtime; the resource model in ``_resources.py`` is a
simple invented formula so that single- and multi-context HEFs exist — its numbers are not Hailo's.
"""

from hailo_sdk_client.exposed_definitions import InferenceContext, States
from hailo_sdk_client.runner import ClientRunner

__version__ = "3.31.0-fake"
__all__ = ["ClientRunner", "InferenceContext", "States", "__version__"]
