"""Import of the official QPV files (and the manifest of their sources)."""
