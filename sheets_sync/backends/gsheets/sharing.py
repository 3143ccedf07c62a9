"""Sharing a Drive file the job made like the tracker: the tracker's permissions copied.

Used for the archive's spreadsheets and the attachments' folder. The tracker's owner
becomes an editor (Drive moves ownership only with the new owner's consent); the job's
own account is left out (it owns the file). Sharing someone again only sets their role
again, so a run killed halfway through shares the rest next time, doubling nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from gspread.urls import DRIVE_FILES_API_V3_URL

PERMISSIONS_URL = f"{DRIVE_FILES_API_V3_URL}/%s/permissions"
#: ``call(what, func, *args, **kwargs)``: the caller's way to send a request and turn
#: Google's refusals into its own one-line errors.
Call = Callable[..., object]


def tracker_permissions(call: Call, client, tracker_id: str) -> list[dict]:
    params = {"fields": "permissions(id,type,role,emailAddress,domain)", "supportsAllDrives": "true"}
    reply = call("reading who the tracker is shared with", client.request, "get",
                 PERMISSIONS_URL % tracker_id, params=params).json()
    return list(reply.get("permissions", []))


def share_like_tracker(call: Call, client, tracker_id: str, target_id: str, identity: str,
                       what: str = "the archive") -> int:
    """Share ``target_id`` with everyone the tracker is shared with; the number shared."""
    shared = 0
    for perm in tracker_permissions(call, client, tracker_id):
        body = {"type": perm.get("type", "user"), "role": perm.get("role", "reader")}
        if body["role"] == "owner":
            body["role"] = "writer"  # ownership moves only with the owner's consent
        if perm.get("emailAddress"):
            if perm["emailAddress"].lower() == identity.lower():
                continue  # the job owns it
            body["emailAddress"] = perm["emailAddress"]
        if perm.get("domain"):
            body["domain"] = perm["domain"]
        call(f"sharing {what} like the tracker", client.request, "post", PERMISSIONS_URL % target_id,
             params={"sendNotificationEmail": "false", "supportsAllDrives": "true"}, json=body)
        shared += 1
    return shared
