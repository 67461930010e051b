"""Training data: structure sources, generators (decoration, random
symmetric crystals), augmentation, splits, HDF5 shards, the builder and
the torch dataset.
"""
