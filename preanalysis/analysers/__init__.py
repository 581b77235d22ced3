"""Analysers: the classical ones register on import; learned ones register from preanalysis.models."""

from . import classical  # noqa: F401  (registers texture, motion, foreground)
from .base import ANALYSERS, AnalysisContext, Analyser, map_owner, register_analyser

__all__ = ["ANALYSERS", "AnalysisContext", "Analyser", "map_owner", "register_analyser"]
