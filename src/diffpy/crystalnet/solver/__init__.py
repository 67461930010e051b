"""The structure-solution pipeline: from a pattern and a composition to
ranked, refined candidate structures and their files.
"""
