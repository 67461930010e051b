"""Search-match against the shipped library of structure types."""
