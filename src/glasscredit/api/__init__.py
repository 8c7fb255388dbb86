"""The HTTP service: FastAPI over one ledger and one live policy (``create_app``)."""

from glasscredit.api.app import create_app

__all__ = ["create_app"]
