"""The HTTP layer: thin routes over the spatial core, geocoders and storage."""
