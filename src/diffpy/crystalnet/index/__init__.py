"""Peak search and lattice indexing of powder patterns."""
