"""API Adresse's own interface over this service's geocoders, with the QPV answer.

- ``params``: the query strings of ``/search/`` and ``/reverse/``, read as addok reads them;
- ``geocodejson``: candidates and their QPV answers as GeocodeJSON FeatureCollections;
- ``service``: search (with autocompletion) and reverse, answered like API Adresse;
- ``csv``: the form fields of ``/search/csv/`` and ``/reverse/csv/`` as batch options.

Plain Python: the routes (``app/api/routes/adresse.py``) only read the request.
"""
