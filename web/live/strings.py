"""The live page's interface texts, translated on the server and handed to live.js as JSON."""

from __future__ import annotations

from aiohttp import web

from web.i18n import _, translate
from web.language import request_translations

STRINGS: dict[str, str] = {
    "connecting": _("Connecting…"),
    "connected": _("Connected"),
    "reconnecting": _("Reconnecting…"),
    "disconnected": _("Disconnected"),
    "mute": _("Mute"),
    "unmute": _("Unmute"),
    "camera_off": _("Camera off"),
    "camera_on": _("Camera on"),
    "share_screen": _("Share screen"),
    "stop_sharing": _("Stop sharing"),
    "raise_hand": _("Raise hand"),
    "lower_hand": _("Lower hand"),
    "start_speaking": _("Start speaking"),
    "devices": _("Devices"),
    "camera": _("Camera"),
    "microphone": _("Microphone"),
    "leave": _("Leave"),
    "participants": _("Participants"),
    "stage_on": _("Bring on stage"),
    "stage_off": _("Take off stage"),
    "remove": _("Remove"),
    "lock": _("Lock room"),
    "unlock": _("Unlock room"),
    "end": _("End meeting"),
    "confirm_end": _("End the meeting for everyone?"),
    "confirm_remove": _("Remove this participant?"),
    "hand_raised": _("Hand raised"),
    "on_stage": _("On stage"),
    "host": _("Host"),
    "site": _("Site"),
    "you": _("(you)"),
    "screen": _("Screen"),
    "locked": _("Locked"),
    "speaking": _("Speaking"),
    "waiting": _("Waiting for the presenter…"),
    "sound_on": _("Click to turn on sound"),
    "denied": _(
        "Camera and microphone access was denied. Allow them in the browser's site settings "
        "(the icon next to the address), then reload the page."
    ),
    "not_found": _("No camera or microphone was found."),
    "in_use": _("The camera or microphone is in use by another program."),
    "audio_only": _("The camera could not be used; you are speaking with the microphone only."),
    "media_failed": _("Could not start the camera or microphone."),
    "no_screen": _("Screen sharing is not available in this browser."),
    "muted_by_host": _("The host muted your microphone."),
    "on_stage_now": _("You are on stage: your camera and microphone are on."),
    "off_stage_now": _("You left the stage."),
    "closed_kicked": _("You were removed from the meeting."),
    "closed_room_ended": _("The meeting has ended."),
    "closed_replaced": _("You joined from another window or device."),
    "closed_other": _("The connection was closed."),
    "refused_not_live": _("This meeting is not live."),
    "refused_forbidden": _("You may not join this meeting."),
    "refused_locked": _("The room is locked."),
    "refused_full": _("The room is full."),
    "media_lost": _("The media connection failed; reconnecting."),
    "error": _("Error"),
}

# The host's recording controls (live-recording.js).
RECORDING_STRINGS: dict[str, str] = {
    "recording": _("Recording now"),
    "paused": _("Recording paused"),
    "starting": _("Starting the recording…"),
    "off": _("Not recording"),
    "marker_added": _("Chapter added at %(time)s."),
    "failed": _("The recording control did not work; try again."),
    "confirm_stop": _("Stop recording? Recording again makes a new part of the replay."),
}


def live_strings(request: web.Request) -> dict[str, str]:
    translations = request_translations(request)
    return {key: translate(translations, text) for key, text in STRINGS.items()}
