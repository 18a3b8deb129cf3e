"""pusher: the object store behind one interface, and publishing a game's outputs to it.

- `pusher.store`: `Store` (the interface), `S3Store` (S3-compatible: DigitalOcean Spaces,
  AWS, SeaweedFS in tests), `LocalStore` (files under `VOLLEY_DATA_DIR/store`, served and
  signed by the front), `get_store()` (the one configured by `VOLLEY_*` settings).
- `pusher.publish`: `publish()` uploads a clipper output directory with the right headers.
- `pusher.config`: the storage settings.
"""
