"""Analysers: classical ones are registered on import; learned ones register from preanalysis.models."""

from .base import ANALYSERS, AnalysisContext, Analyser, map_owner, register_analyser

__all__ = ["ANALYSERS", "AnalysisContext", "Analyser", "map_owner", "register_analyser"]
