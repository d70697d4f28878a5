"""Acting on flags: acknowledging one, or snoozing it until a day, each with a note saying why.

Neither resolves the flag (only an evaluation that no longer supports it does); a snoozed flag
stays out of the weekly digest until its day.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracker.models import Flag

NOTE_MAX_LENGTH = 2000


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH} characters."})
    if "\x00" in note:
        raise ValidationError({"note": "May not contain NUL characters."})
    return note


def _open_flag(flag: Flag) -> Flag:
    locked = Flag.objects.select_for_update().get(pk=flag.pk)
    if locked.resolved_on is not None:
        raise ValidationError(
            {"flag": f"This flag was resolved on {locked.resolved_on}; nothing to act on."}
        )
    return locked


@transaction.atomic
def flag_acknowledge(*, flag: Flag, by, note: str = "") -> Flag:
    """Record that ``by`` has seen the flag and is on it. Acknowledging again keeps the first
    acknowledgement's who and when; a new note replaces the old one."""
    note = _clean_note(note)
    flag = _open_flag(flag)
    if flag.acknowledged_at is None:
        flag.acknowledged_at = timezone.now()
        flag.acknowledged_by = by
    if note:
        flag.note = note
    flag.save(update_fields=["acknowledged_at", "acknowledged_by", "note"])
    return flag


@transaction.atomic
def flag_snooze(*, flag: Flag, until: date, by, note: str = "", today: date | None = None) -> Flag:
    """Keep the flag out of the digest until ``until`` (a day after today). Snoozing again
    moves the day."""
    note = _clean_note(note)
    today = today or timezone.localdate()
    if until is None or until <= today:
        raise ValidationError({"until": f"A day after today ({today})."})
    flag = _open_flag(flag)
    flag.snoozed_until = until
    flag.snoozed_at = timezone.now()
    flag.snoozed_by = by
    if note:
        flag.note = note
    flag.save(update_fields=["snoozed_until", "snoozed_at", "snoozed_by", "note"])
    return flag
