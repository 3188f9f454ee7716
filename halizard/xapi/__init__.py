"""The only package that talks XenAPI: sessions with deadlines, typed errors."""
from halizard.xapi.errors import (  # noqa: F401
    XapiError,
    XapiFailure,
    XapiTimeout,
    XapiUnreachable,
)
