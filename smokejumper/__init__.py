"""smokejumper: incident-response orchestration for Generative-AI systems."""

__version__ = "0.1.0"
