"""The CrystalNet network, its input losses and checkpoints, training,
evaluation, baselines and density metrics.
"""
