"""The scaler: sizes the processing node pool and the worker Deployment from the
database (`volley scaler`; see README.md in this folder)."""
