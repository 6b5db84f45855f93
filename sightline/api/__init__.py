"""The HTTP API: Azure Custom Vision's Training and Prediction routes over the service layer.

`create_api()` builds the FastAPI app of the API alone; `sightline.app.create_app()` adds the web UI, and
`sightline serve` runs that with uvicorn. Keys: `sightline keys`.
"""

from sightline.api.app import create_api
from sightline.api.keys import ApiKeys, load_keys, rotate_keys

__all__ = ["ApiKeys", "create_api", "load_keys", "rotate_keys"]
