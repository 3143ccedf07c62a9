"""Publishing approved replies on the platforms (see :mod:`sheets_sync.publish.base`)."""
