"""Migration revisions, one file each, named ``NNNN_slug.py`` (revision id ``NNNN_slug``)."""
