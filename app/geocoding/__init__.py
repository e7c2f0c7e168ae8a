"""Address geocoding against the Base Adresse Nationale (BAN): HTTP and offline providers."""
