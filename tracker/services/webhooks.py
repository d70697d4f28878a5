"""Webhooks and Slack: events written to an outbox with the change that caused them, then
delivered at most once per endpoint.

How an event goes out:

1. The change (an evaluation, a shutdown notice) writes one ``WebhookDelivery`` per subscribed
   endpoint in its own transaction. ``event_key`` names what happened (flag 12 opened; tune 7
   went KEEP → RETRAIN on 2026-03-02), and a unique constraint on (endpoint, event_key) makes
   the same change, recorded again by a re-run of the same day, add nothing.
2. ``deliver_webhook`` tasks are queued once the transaction commits. Each claims its row with a
   conditional update, ``pending → sending``; only the caller whose update changed the row sends.
3. 2xx: ``sent``. A timeout, a refused connection or a 5xx: the claim is released (``pending``)
   with the error and the task retries with exponential backoff; the last attempt records
   ``failed``. Any other answer (4xx, a redirect): ``failed`` at once, never retried — the
   request itself is wrong, and sending it again changes nothing.

A ``generic`` endpoint gets the event as JSON, signed with HMAC-SHA256 of the exact body under
the endpoint's secret in ``X-Tunefolio-Signature: sha256=<hex>``; a ``slack`` endpoint gets a
Slack incoming-webhook message (a text fallback and blocks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from tracker.models import (
    Evaluation,
    FineTune,
    Flag,
    ShutdownNotice,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tracker.publish import publish_after_commit

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status
#: A claim older than this with no answer is stuck (its worker died); only a person resends it.
STUCK_AFTER = timedelta(hours=1)
SIGNATURE_HEADER = "X-Tunefolio-Signature"
#: A pending row older than this (or last tried this long ago) has no task coming for it:
#: longer than the largest retry backoff.
REQUEUE_AFTER = timedelta(hours=2)


class TransientWebhookError(Exception):
    """A timeout, an unreachable endpoint or a 5xx: worth trying again later."""


# --- Recording events -----------------------------------------------------------------------------


def _number(value) -> float | None:
    return None if value is None else float(value)


def tune_url(tune_id: int) -> str:
    return settings.SITE_URL + reverse("admin:tracker_finetune_change", args=[tune_id])


def _tune(tune: FineTune) -> dict:
    return {
        "id": tune.pk,
        "slug": tune.slug,
        "name": tune.name,
        "status": tune.status,
        "team": tune.team.slug,
        "url": tune_url(tune.pk),
    }


def _evaluation(evaluation: Evaluation) -> dict:
    return {
        "as_of": evaluation.as_of.isoformat(),
        "verdict": evaluation.verdict,
        "reason": evaluation.reason,
        "monthly_net_saving_usd": _number(evaluation.monthly_net_saving),
        "unrecovered_cost_usd": _number(evaluation.unrecovered_cost),
        "figures": evaluation.figures,
    }


def record_events(*, events: Iterable[tuple[int, str, str, dict]]) -> int:
    """Write an outbox row for each (team id, event, event key, payload) and each active
    endpoint of the team subscribed to the event; queue the new ones after commit. Rows already
    recorded for a key are left alone. Returns how many deliveries are pending for them."""
    events = list(events)
    if not events:
        return 0
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        active=True, team_id__in={team_id for team_id, *_ in events}
    ):
        endpoints.setdefault(endpoint.team_id, []).append(endpoint)
    rows = [
        WebhookDelivery(endpoint=endpoint, event=event, event_key=key, payload=payload)
        for team_id, event, key, payload in events
        for endpoint in endpoints.get(team_id, [])
        if event in endpoint.events
    ]
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    pending = list(
        WebhookDelivery.objects.filter(
            status=Status.PENDING,
            attempts=0,
            event_key__in={row.event_key for row in rows},
            endpoint__in={row.endpoint_id for row in rows},
        ).values_list("pk", flat=True)
    )
    enqueue_deliveries(delivery_ids=pending)
    return len(pending)


def record_evaluation_events(*, evaluations: list[Evaluation]) -> int:
    """The events an evaluation run caused: flags it opened or resolved, and deployed tunes
    whose verdict changed from their previous evaluation. Only a tune's latest evaluation
    speaks (a backfill of an older day announces nothing). A fixed number of queries."""
    if not evaluations or not WebhookEndpoint.objects.filter(active=True).exists():
        return 0
    as_of = evaluations[0].as_of
    ids = [e.pk for e in evaluations]
    previous = Evaluation.objects.filter(tune=OuterRef("tune_id"), as_of__lt=OuterRef("as_of"))
    latest = list(
        Evaluation.objects.filter(pk__in=ids)
        .exclude(tune__evaluations__as_of__gt=as_of)
        .annotate(previous_verdict=Subquery(previous.order_by("-as_of").values("verdict")[:1]))
        .select_related("tune__team")
    )
    by_pk = {e.pk: e for e in latest}
    events: list[tuple[int, str, str, dict]] = []
    for evaluation in latest:
        tune = evaluation.tune
        before = evaluation.previous_verdict
        if tune.status == FineTune.Status.DEPLOYED and before and before != evaluation.verdict:
            key = f"verdict.changed:{tune.pk}:{as_of}:{before}:{evaluation.verdict}"
            payload = {
                "event": WebhookEvent.VERDICT_CHANGED,
                "tune": _tune(tune),
                "previous_verdict": before,
                "evaluation": _evaluation(evaluation),
            }
            events.append((tune.team_id, WebhookEvent.VERDICT_CHANGED, key, payload))
    flags = Flag.objects.filter(
        Q(opened_by__in=list(by_pk), opened_on=as_of)
        | Q(resolved_by__in=list(by_pk), resolved_on=as_of)
    ).order_by("pk")
    for flag in flags:
        resolved_on = flag.resolved_on
        opened = resolved_on is None
        # Resolved on this day: by one of these evaluations.
        evaluation = by_pk[flag.opened_by_id if opened else cast(int, flag.resolved_by_id)]
        event = WebhookEvent.FLAG_OPENED if opened else WebhookEvent.FLAG_RESOLVED
        payload = {
            "event": event,
            "tune": _tune(evaluation.tune),
            "flag": {"id": flag.pk, "kind": flag.kind, "opened_on": flag.opened_on.isoformat()}
            | ({} if resolved_on is None else {"resolved_on": resolved_on.isoformat()}),
            "evaluation": _evaluation(evaluation),
        }
        events.append((evaluation.tune.team_id, event, f"{event}:{flag.pk}", payload))
    return record_events(events=events)


def record_shutdown_notice_events(*, notices: list[ShutdownNotice]) -> int:
    events = []
    for notice in notices:
        tune = notice.tune
        model = tune.base_model
        payload = {
            "event": WebhookEvent.SHUTDOWN_NOTICE,
            "tune": _tune(tune),
            "base_model": str(model),
            # A notice exists only for a base model with a shutdown date.
            "shutdown_on": cast(date, model.shutdown_on).isoformat(),
            "retrain_by": notice.retrain_by.isoformat(),
            "days_left": (notice.retrain_by - notice.noticed_on).days,
            "threshold_days": notice.days_before,
            "successor": str(model.successor) if model.successor_id else None,
        }
        key = f"shutdown.notice:{notice.pk}"
        events.append((tune.team_id, WebhookEvent.SHUTDOWN_NOTICE, key, payload))
    return record_events(events=events)


# --- Bodies ---------------------------------------------------------------------------------------


def generic_body(delivery: WebhookDelivery) -> bytes:
    document = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (<!channel> would ping everyone).
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _usd(value) -> str:
    if value is None:
        return "—"
    amount = Decimal(str(value)).quantize(Decimal(1))
    return f"-${-amount:,}" if amount < 0 else f"${amount:,}"


def slack_message(payload: dict) -> dict:
    """A Slack incoming-webhook message: ``text`` (the notification fallback) and blocks with
    the tune, verdict, reason, figures and a link."""
    event, tune = payload["event"], payload["tune"]
    name = _slack_escape(tune["name"])
    evaluation = payload.get("evaluation") or {}
    verdict = evaluation.get("verdict", "")
    if event == WebhookEvent.VERDICT_CHANGED:
        title = f"{tune['name']}: {payload['previous_verdict']} → {verdict}"
    elif event == WebhookEvent.FLAG_OPENED:
        title = f"{tune['name']}: flagged {payload['flag']['kind']}"
    elif event == WebhookEvent.FLAG_RESOLVED:
        title = f"{tune['name']}: {payload['flag']['kind']} flag resolved"
    else:
        title = f"{tune['name']}: retrain by {payload['retrain_by']}"
    if event == WebhookEvent.SHUTDOWN_NOTICE:
        reason = (
            f"*{name}* runs on {_slack_escape(payload['base_model'])}, which shuts down on "
            f"{payload['shutdown_on']}. Retrain it on "
            f"{_slack_escape(payload['successor'] or 'a successor')} and evaluate it by "
            f"*{payload['retrain_by']}* ({payload['days_left']} days left), or retire it."
        )
        fields = [
            ("Retrain by", payload["retrain_by"]),
            ("Shutdown", payload["shutdown_on"]),
        ]
    else:
        reason = _slack_escape(evaluation.get("reason", ""))
        fields = [
            ("Verdict", verdict),
            ("Monthly net saving", _usd(evaluation.get("monthly_net_saving_usd"))),
            ("Unrecovered cost", _usd(evaluation.get("unrecovered_cost_usd"))),
            ("As of", evaluation.get("as_of", "")),
        ]
    return {
        "text": f"{title} — {reason}"[:3000],
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": reason[:3000] or name}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{label}*\n{_slack_escape(value)}"}
                    for label, value in fields
                ],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"<{tune['url']}|Open {name} in Tunefolio> · team "
                        f"{_slack_escape(tune['team'])}",
                    }
                ],
            },
        ],
    }


def request_for(delivery: WebhookDelivery) -> urllib.request.Request:
    endpoint = delivery.endpoint
    headers = {"Content-Type": "application/json", "User-Agent": "Tunefolio-Webhooks"}
    if endpoint.kind == WebhookEndpoint.Kind.SLACK:
        body = json.dumps(slack_message(delivery.payload)).encode()
    else:
        body = generic_body(delivery)
        headers |= {
            SIGNATURE_HEADER: signature(endpoint.secret, body),
            "X-Tunefolio-Event": delivery.event,
            "X-Tunefolio-Delivery": str(delivery.pk),
        }
    return urllib.request.Request(endpoint.url, data=body, headers=headers, method="POST")


# --- Sending --------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer (3xx), not something to follow with the body


_opener = urllib.request.build_opener(_NoRedirects)


def post(request: urllib.request.Request) -> int:
    """Send it; the status code of a 2xx. Raises TransientWebhookError (retry) or
    urllib.error.HTTPError for anything else."""
    try:
        with _opener.open(request, timeout=settings.TUNEFOLIO_WEBHOOK_TIMEOUT) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise TransientWebhookError(f"HTTP {exc.code} {exc.reason}") from exc
        raise
    except TimeoutError as exc:
        raise TransientWebhookError(
            f"no answer within {settings.TUNEFOLIO_WEBHOOK_TIMEOUT:g}s"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError | socket.timeout):
            raise TransientWebhookError(
                f"no answer within {settings.TUNEFOLIO_WEBHOOK_TIMEOUT:g}s"
            ) from exc
        raise TransientWebhookError(f"unreachable: {reason}") from exc


def claim(*, delivery_id: int) -> bool:
    return (
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
            status=Status.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        == 1
    )


def _finish(delivery_id: int, status: str, **fields) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=Status.SENDING).update(
        status=status, **fields
    )


def deliver_webhook(*, delivery_id: int, final_attempt: bool = True) -> str:
    """Send one outbox row unless another worker has it or it was already handled. Raises
    TransientWebhookError (claim released) when a retry may succeed and this is not the
    ``final_attempt``. Returns the row's status afterwards."""
    if not claim(delivery_id=delivery_id):
        return "already handled"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    try:
        code = post(request_for(delivery))
    except TransientWebhookError as exc:
        if final_attempt:
            _finish(delivery_id, Status.FAILED, error=f"{exc} (gave up, last attempt)")
            logger.warning("Webhook delivery %s failed: %s", delivery_id, exc)
            return Status.FAILED
        _finish(delivery_id, Status.PENDING, error=str(exc))
        raise
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode(errors="replace").strip()
        error = f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
        _finish(delivery_id, Status.FAILED, response_status=exc.code, error=error)
        logger.warning("Webhook delivery %s refused: %s", delivery_id, error)
        return Status.FAILED
    except Exception as exc:  # a bug or a time limit mid-send: maybe delivered, never resent
        _finish(delivery_id, Status.FAILED, error=f"{exc.__class__.__name__}: {exc}")
        raise
    _finish(delivery_id, Status.SENT, response_status=code, sent_at=timezone.now(), error="")
    return Status.SENT


def enqueue_deliveries(*, delivery_ids: list[int]) -> int:
    """Queue one ``deliver_webhook`` task per row once the transaction commits. A broker that
    cannot be reached loses nothing: the rows stay pending and ``requeue_pending`` (every few
    minutes) queues them again; the change that caused them is not held up."""
    calls = [{"delivery_id": delivery_id} for delivery_id in sorted(set(delivery_ids))]
    return publish_after_commit("deliver_webhook", calls, robust=True)


def requeue_pending(*, older_than: timedelta = REQUEUE_AFTER) -> int:
    """Queue again the rows still pending (never published, or their task was lost) and
    waiting longer than any retry would. Sending twice is harmless: the claim lets one through."""
    cutoff = timezone.now() - older_than
    stale = WebhookDelivery.objects.filter(status=Status.PENDING).filter(
        Q(claimed_at__isnull=True, created_at__lt=cutoff) | Q(claimed_at__lt=cutoff)
    )
    return enqueue_deliveries(delivery_ids=list(stale.values_list("pk", flat=True)))


@transaction.atomic
def resend_deliveries(*, delivery_ids: list[int]) -> int:
    """Send the rows again (a person's decision: the endpoint may get a second copy). Rows still
    being sent are left alone unless their claim is over an hour old."""
    stuck = Q(status=Status.SENDING, claimed_at__lt=timezone.now() - STUCK_AFTER)
    rows = WebhookDelivery.objects.filter(pk__in=delivery_ids).filter(
        Q(status__in=[Status.SENT, Status.FAILED, Status.PENDING]) | stuck
    )
    ids = list(rows.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=Status.PENDING, attempts=0, error="", response_status=None
    )
    enqueue_deliveries(delivery_ids=ids)
    return len(ids)
