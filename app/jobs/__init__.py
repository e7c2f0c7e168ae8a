"""Background jobs: a batch file tagged by workers, in chunks, on a Redis queue (SAQ).

It composes the batch core (``app.batch``), Redis (queue and job records) and a folder of
files (``QPV_JOBS_DIR``, a shared volume in production); it knows nothing of HTTP.

    store = JobStore.connect(settings)
    record = await submit(store, files, upload, filename, options, owner=None)
    view = await store.view(record.id)       # state, rows done / total, counts, ETA

A job goes ``queued`` -> ``running`` (split into chunks, each tagged by any worker) ->
``done`` (parts joined in input order) or ``failed``; DELETE makes it ``cancelled``.
Every file of a job is deleted when it ends badly, on DELETE, and ``QPV_JOB_TTL_S`` after it
was created or finished (workers sweep; the API also checks on access).
"""
