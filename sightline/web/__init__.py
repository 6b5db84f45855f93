"""The browser UI: server-rendered pages (Jinja2) over the service layer, with small JavaScript modules.

`sightline.app.create_app` mounts it at `/`; every page reads through `sightline.service`, as the CLI and the API
do, so the pages hold no rules of their own. Pages read without JavaScript; scripts add drag-and-drop
uploads, live training progress and the threshold slider.
"""

from sightline.web.app import mount_web

__all__ = ["mount_web"]
