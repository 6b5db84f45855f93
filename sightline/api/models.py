"""The API schemas moved to `sightline.api.schemas` (one module per resource); this name is kept so that
branches written against it still import."""

from sightline.api.schemas import *  # noqa: F403
from sightline.api.schemas import __all__  # noqa: F401
