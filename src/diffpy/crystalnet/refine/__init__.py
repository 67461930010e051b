"""Fitting against a measured profile: the profile fit of a candidate,
Pawley intensity extraction and Rietveld refinement.
"""
