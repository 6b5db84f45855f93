"""The HTTP pieces the API (`sightline.api`) and the web UI (`sightline.web`) share, so that neither
imports the other: what a request gets from the app (`context`), fetching image URLs safely
(`fetch`), and Custom Vision's domains as served backbones (`domains`). `sightline.app.create_app`
is the one factory that mounts both front ends on one FastAPI app.
"""
