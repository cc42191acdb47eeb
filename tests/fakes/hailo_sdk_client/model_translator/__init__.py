"""Fake ``hailo_sdk_client.model_translator``."""
