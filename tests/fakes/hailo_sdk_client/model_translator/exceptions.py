"""Parser exceptions (names from public converters, reference/hailo.md §1.2)."""

from __future__ import annotations


class ModelTranslatorException(Exception):
    pass


class UnsupportedModelError(ModelTranslatorException):
    pass


class MisspellNodeError(ModelTranslatorException):
    pass


class ParsingWithRecommendationException(ModelTranslatorException):
    """Parsing failed at an unsupported op; the message ends with the recommended end node names."""

    def __init__(self, message: str, recommended_end_node_names: list[str]) -> None:
        super().__init__(f"{message}. Parsing failed with recommendations for end node names: "
                         f"{recommended_end_node_names}")
        self.recommended_end_node_names = list(recommended_end_node_names)
