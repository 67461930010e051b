"""Electron densities: the CMED of a structure, density maxima and decoding
a density into atom sites.
"""
