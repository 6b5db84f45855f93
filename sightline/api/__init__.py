"""The HTTP API: Azure Custom Vision's Training and Prediction routes over the service layer.

`create_app()` builds the FastAPI app; `sightline serve` runs it with uvicorn. Keys: `sightline keys`.
"""

from sightline.api.app import create_app
from sightline.api.keys import ApiKeys, load_keys, rotate_keys

__all__ = ["ApiKeys", "create_app", "load_keys", "rotate_keys"]
