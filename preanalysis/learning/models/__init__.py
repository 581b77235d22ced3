"""Learned analysers: small PyTorch networks trained by `preanalysis train`, weights shipped in the package."""
