"""knowledge: tested PyTorch implementations behind the knowledge site."""

__version__ = "0.1.0"
