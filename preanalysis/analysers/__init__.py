"""Analysers: the classical ones register on import; learned ones register from preanalysis.models."""

from . import classical  # noqa: F401  (registers texture, motion, foreground)
from .base import ANALYSERS, Analyser, AnalysisContext, map_owner, register_analyser

__all__ = ["ANALYSERS", "Analyser", "AnalysisContext", "map_owner", "register_analyser"]
