"""sheets-sync: keep a municipal corporation's Tracker sheet in sync with citizens' comments."""

from sheets_sync.errors import (
    AuthError,
    Busy,
    ConfigError,
    DeliveryError,
    InputError,
    RateLimited,
    SheetsSyncError,
    SourceError,
    TrackerError,
)
from sheets_sync.models import Comment, Post

__all__ = [
    "AuthError",
    "Busy",
    "Comment",
    "ConfigError",
    "DeliveryError",
    "InputError",
    "Post",
    "RateLimited",
    "SheetsSyncError",
    "SourceError",
    "TrackerError",
]
