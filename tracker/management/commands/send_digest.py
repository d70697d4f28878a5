"""Send (or, with --dry-run, show) the weekly digests for an ISO week, right now.

The same service as the scheduled task: each recipient's delivery is claimed before sending, so
running this beside the task, or twice, still sends at most one digest per recipient and week.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tracker.selectors import digest as digest_selectors
from tracker.services import digest as digest_services


class Command(BaseCommand):
    help = (
        "Send the weekly digest to every recipient who has not had it this ISO week. "
        "--dry-run prints what would be sent to whom, and sends nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--week", metavar="YYYY-Www", help="ISO week (default: this week)")
        parser.add_argument("--dry-run", action="store_true", help="Print, send nothing.")

    def handle(self, *args, week=None, dry_run=False, **options):
        try:
            iso_year, iso_week = (
                digest_services.parse_week(week) if week else digest_services.current_week()
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        label = digest_services.week_label(iso_year, iso_week)
        for delivery in digest_selectors.week_deliveries(iso_year, iso_week).exclude(
            status="pending"
        ):
            self.stdout.write(
                f"skip {delivery.recipient.email or delivery.recipient}: already "
                f"{delivery.get_status_display().lower()} for {label}"
                + (f" ({delivery.error})" if delivery.error else "")
            )
        recipients = digest_selectors.digest_recipients(iso_year, iso_week)
        if dry_run:
            self.dry_run(recipients, iso_year, iso_week, label)
            return
        counts: dict[str, int] = {}
        for recipient_id in recipients:
            try:
                outcome = str(
                    digest_services.deliver_digest(
                        recipient_id, iso_year, iso_week, final_attempt=False
                    )
                )
            except digest_services.TransientDeliveryError as exc:
                outcome = f"deferred, left pending ({exc})"
            counts[outcome] = counts.get(outcome, 0) + 1
            user = digest_selectors.digest_recipient(recipient_id)
            self.stdout.write(f"{user.email if user else recipient_id}: {outcome}")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        self.stdout.write(f"Week {label}: {summary or 'nobody to send to'}.")

    def dry_run(self, recipients: list[int], iso_year: int, iso_week: int, label: str) -> None:
        would = 0
        for recipient_id in recipients:
            user = digest_selectors.digest_recipient(recipient_id)
            if user is None or not digest_selectors.wants_digest(user):
                continue
            prepared = digest_services.prepare(user=user, iso_year=iso_year, iso_week=iso_week)
            if prepared is None:
                self.stdout.write(f"skip {user.email}: nothing to act on")
                continue
            would += 1
            scope = "whole portfolio" if prepared.digest.whole_portfolio else "own tunes"
            self.stdout.write(f"to {user.email} ({scope}): {prepared.message.subject}")
            for item in prepared.digest.items:
                self.stdout.write(f"  - {item.name}: {item.verdict_label} — {item.reason}")
        self.stdout.write(f"Week {label}: {would} digest(s) would be sent (dry run, none sent).")
