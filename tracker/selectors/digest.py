"""What each recipient's weekly digest says, and who gets one.

A digest lists the tunes that need their owner: those that no longer pay off, those whose latest
verdict is RETIRE, RETRAIN or WATCH, and proposals flagged ready to fine-tune; each with the
deciding reason and its numbers, and what changed since the evaluation about a week before.
Owners see their own tunes; portfolio leads (``TUNEFOLIO_PORTFOLIO_LEADS``) see every tune.
A fixed number of queries per digest, whatever the portfolio's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from decision import DAYS_PER_MONTH, fmt
from tracker.models import (
    DigestDelivery,
    DigestPreference,
    Evaluation,
    FineTune,
    Flag,
    ShutdownNotice,
    UsageRecord,
    Verdict,
)

from .shutdowns import recent_shutdown_notices
from .values import as_day as _day
from .values import finite_number as _number

#: Latest verdicts that put a tune in the digest.
LISTED_VERDICTS = (Verdict.RETIRE, Verdict.RETRAIN, Verdict.WATCH)
#: Open flags that put a tune in the digest (a proposal ready to fine-tune is a decision too).
LISTED_FLAGS = (Flag.Kind.RETIRE, Flag.Kind.RETRAIN, Flag.Kind.FINE_TUNE)
#: How far back "last week" is: the latest evaluation at least this old is compared.
WEEK = timedelta(days=7)
#: Older than this, an evaluation is too far back to stand for "last week".
COMPARE_WINDOW = timedelta(days=21)
ORDER = {Verdict.RETIRE: 0, Verdict.RETRAIN: 1, Verdict.FINE_TUNE: 2, Verdict.WATCH: 3}
#: Deliveries in these states are done for the week: never sent again.
HANDLED = (
    DigestDelivery.Status.SENDING,
    DigestDelivery.Status.SENT,
    DigestDelivery.Status.FAILED,
)


def usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}"


def months(value: float | None, never: bool = False) -> str:
    if never:
        return "never"
    return "unknown" if value is None else f"{value:,.1f} months"


def _cited(findings: list[dict]) -> tuple[tuple[str, object], ...]:
    """The figures the deciding findings cite, first citation first."""
    cited: dict[str, object] = {}
    for finding in findings:
        if finding.get("decisive"):
            for key, value in (finding.get("figures") or {}).items():
                cited.setdefault(key, value)
    return tuple(cited.items())


@dataclass(frozen=True)
class FlagLine:
    kind: str
    label: str
    opened_on: date
    age_days: int


@dataclass(frozen=True)
class DigestItem:
    """One tune in a digest: its latest verdict, the deciding reason and the numbers."""

    tune_id: int
    name: str
    team: str
    owner_email: str
    status: str
    verdict: str
    as_of: date
    reason: str
    monthly_net_saving: float | None
    payback_months: float | None
    break_even_on: date | None
    expected_lifetime_months: float | None
    base_model_shutdown_on: date | None
    unrecovered_cost: float | None
    flags: tuple[FlagLine, ...]
    changes: tuple[str, ...]
    admin_url: str
    #: The figures the deciding findings cite, in their order: the numbers behind the reason.
    cited: tuple[tuple[str, object], ...] = ()
    page_url: str = ""

    @property
    def verdict_label(self) -> str:
        return Verdict(self.verdict).label

    @property
    def deployed(self) -> bool:
        return self.status == FineTune.Status.DEPLOYED

    @property
    def no_longer_pays_off(self) -> bool:
        return (
            self.deployed and self.monthly_net_saving is not None and self.monthly_net_saving <= 0
        )

    @property
    def needs_action(self) -> bool:
        """Retire, retrain, start a training run, or a tune losing money; WATCH only warns."""
        return (
            self.verdict in (Verdict.RETIRE, Verdict.RETRAIN, Verdict.FINE_TUNE)
            or self.no_longer_pays_off
            or any(f.kind in LISTED_FLAGS for f in self.flags)
        )

    @property
    def numbers(self) -> list[tuple[str, str]]:
        """The figures behind the verdict, each labelled, as (label, value) pairs for the
        templates: first the ones the reason cites, worded as the reason words them, then the
        usual ones it doesn't."""
        saving = self.monthly_net_saving
        never = saving is not None and saving <= 0
        rows = [
            (
                "Monthly net loss" if saving is not None and saving < 0 else "Monthly net saving",
                usd(abs(saving)) if saving is not None else "unknown",
            )
        ]
        shown = {"monthly_net_saving"}
        for key, value in self.cited:
            if key not in shown and key in fmt.FIGURE_LABELS:
                rows.append((fmt.figure_label(key), fmt.figure_text(key, value, saving)))
                shown.add(key)
        usual = [
            ("payback_months", months(self.payback_months, never=never)),
            (
                "break_even_on",
                self.break_even_on.isoformat()
                if self.break_even_on
                else ("never at this rate" if never else "unknown"),
            ),
            ("expected_stable_lifetime_months", months(self.expected_lifetime_months)),
            (
                "base_model_shutdown_on",
                self.base_model_shutdown_on.isoformat()
                if self.base_model_shutdown_on
                else "none announced",
            ),
        ]
        if self.deployed:
            usual.append(("unrecovered_cost", usd(self.unrecovered_cost)))
        rows += [(fmt.figure_label(key), text) for key, text in usual if key not in shown]
        return rows


@dataclass(frozen=True)
class Totals:
    tunes: int
    verdicts: dict[str, int]
    month: date | None
    realised_saving_this_month: float | None
    tunes_without_prices: int
    unrecovered_cost_of_listed: float

    @property
    def realised_saving_text(self) -> str:
        return usd(self.realised_saving_this_month)

    @property
    def unrecovered_cost_text(self) -> str:
        return usd(self.unrecovered_cost_of_listed)


@dataclass(frozen=True)
class Digest:
    recipient_id: int
    email: str
    name: str
    whole_portfolio: bool
    as_of: date | None
    items: tuple[DigestItem, ...]
    resolved: tuple[str, ...]
    totals: Totals
    #: Retrain-by notices (90/60/30 days) recorded in the last week for the recipient's tunes.
    shutdown_notices: tuple[str, ...] = ()

    @property
    def action_items(self) -> tuple[DigestItem, ...]:
        return tuple(i for i in self.items if i.needs_action)

    @property
    def watch_items(self) -> tuple[DigestItem, ...]:
        return tuple(i for i in self.items if not i.needs_action)

    @property
    def has_news(self) -> bool:
        """Anything to act on; nothing is sent to a recipient without it."""
        return bool(self.items or self.shutdown_notices)


def _lead_filter() -> Q | None:
    leads = [lead.strip() for lead in settings.TUNEFOLIO_PORTFOLIO_LEADS if lead.strip()]
    if not leads:
        return None
    condition = Q()
    for lead in leads:
        condition |= Q(email__iexact=lead) | Q(username=lead)
    return condition


def is_portfolio_lead(user) -> bool:
    leads = {lead.strip().lower() for lead in settings.TUNEFOLIO_PORTFOLIO_LEADS}
    return bool(leads) and (
        (user.email or "").lower() in leads or user.get_username().lower() in leads
    )


def _latest(tunes: QuerySet[FineTune]) -> QuerySet[FineTune]:
    """With ``latest_verdict``, read through ``FineTune.latest_evaluation``."""
    return tunes.annotate(latest_verdict=F("latest_evaluation__verdict"))


def _snoozed(today: date) -> Q:
    return Q(snoozed_until__gt=today)


def listed_tunes(
    tunes: QuerySet[FineTune] | None = None, today: date | None = None
) -> QuerySet[FineTune]:
    """Tunes (not retired) that belong in a digest: a listed latest verdict or an open flag.

    A flag snoozed past ``today`` keeps its tune out, verdict and all, until its day."""
    tunes = FineTune.objects.all() if tunes is None else tunes
    today = today or timezone.localdate()
    open_flags = Flag.objects.filter(tune=OuterRef("pk"), resolved_on__isnull=True)
    awake = open_flags.filter(kind__in=LISTED_FLAGS).exclude(_snoozed(today))
    verdict_snoozed = open_flags.filter(_snoozed(today), kind=OuterRef("latest_verdict"))
    return (
        _latest(tunes.exclude(status=FineTune.Status.RETIRED))
        .annotate(has_open_flag=Exists(awake), verdict_snoozed=Exists(verdict_snoozed))
        .filter(
            Q(latest_verdict__in=LISTED_VERDICTS, verdict_snoozed=False) | Q(has_open_flag=True)
        )
    )


def digest_recipients(iso_year: int, iso_week: int) -> list[int]:
    """Users who get a digest this week and have not had it: owners of listed tunes, and the
    portfolio leads; active, with an email address, not opted out."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    condition = Q(pk__in=listed_tunes().values("owner_id"))
    noticed = ShutdownNotice.objects.filter(noticed_on__gte=timezone.localdate() - WEEK)
    condition |= Q(pk__in=FineTune.objects.filter(pk__in=noticed.values("tune_id")).values("owner"))
    leads = _lead_filter()
    if leads is not None and listed_tunes().exists():
        condition |= leads  # a lead's digest covers the whole portfolio
    opted_out = DigestPreference.objects.filter(weekly_digest=False).values("user_id")
    done = DigestDelivery.objects.filter(
        iso_year=iso_year, iso_week=iso_week, status__in=HANDLED
    ).values("recipient_id")
    return list(
        users.filter(condition)
        .exclude(pk__in=opted_out)
        .exclude(pk__in=done)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def week_deliveries(iso_year: int, iso_week: int) -> QuerySet[DigestDelivery]:
    return DigestDelivery.objects.filter(iso_year=iso_year, iso_week=iso_week).select_related(
        "recipient"
    )


def digest_recipient(user_id: int):
    """The user a digest would go to, or None when inactive or gone."""
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def wants_digest(user) -> bool:
    return not DigestPreference.objects.filter(user=user, weekly_digest=False).exists()


def admin_url(tune_id: int) -> str:
    return settings.SITE_URL + reverse("admin:tracker_finetune_change", args=[tune_id])


def page_url(slug: str) -> str:
    """The tune's portfolio page: its break-even chart, what-if and flags."""
    return settings.SITE_URL + reverse("portfolio:tune", args=[slug])


def _changes(
    evaluation: Evaluation, previous: dict | None, flags: list[FlagLine], week_start: date
) -> tuple[str, ...]:
    lines = []
    if previous is None:
        lines.append("New on the list: no evaluation from a week earlier to compare with.")
    elif previous["verdict"] != evaluation.verdict:
        lines.append(
            f"Verdict changed from {Verdict(previous['verdict']).label} on "
            f"{previous['as_of']} to {Verdict(evaluation.verdict).label}."
        )
    else:
        lines.append(f"Same verdict as on {previous['as_of']}.")
    if previous is not None:
        before = _number(previous["monthly_net_saving"])
        now = _number(evaluation.monthly_net_saving)
        if before is not None and now is not None and abs(now - before) >= 1:
            delta = now - before
            sign = "+" if delta > 0 else "-"
            lines.append(
                f"Monthly net saving {usd(before)} → {usd(now)} ({sign}${abs(delta):,.0f})."
            )
    for flag in flags:
        if flag.opened_on > week_start:
            lines.append(f"{flag.label} flag opened on {flag.opened_on}.")
    return tuple(lines)


def digest_for(user) -> Digest:
    """The digest for ``user``: their tunes (the whole portfolio for a lead), as of the latest
    evaluations. ``has_news`` is False when nothing is listed."""
    whole = is_portfolio_lead(user)
    scope = FineTune.objects.exclude(status=FineTune.Status.RETIRED)
    if not whole:
        scope = scope.filter(owner=user)
    tunes = list(
        _latest(scope)
        .select_related("team", "owner")
        .order_by("name")
        .only(
            "pk",
            "name",
            "slug",
            "status",
            "deployed_on",
            "monthly_fixed_cost",
            "latest_evaluation",
            "team__name",
            "owner__email",
        )
    )
    latest_ids = [t.latest_evaluation_id for t in tunes if t.latest_evaluation_id]
    evaluations = {
        e.tune_id: e
        # The policy words the findings the digest cites from (``Evaluation.findings``).
        for e in Evaluation.objects.filter(pk__in=latest_ids).select_related("policy")
    }
    as_of = max((e.as_of for e in evaluations.values()), default=None)
    open_flags: dict[int, list[FlagLine]] = {}
    snoozed: dict[int, set[str]] = {}
    today = timezone.localdate()
    for flag in Flag.objects.filter(tune_id__in=evaluations, resolved_on__isnull=True).order_by(
        "opened_on"
    ):
        if flag.snoozed_until and flag.snoozed_until > today:
            snoozed.setdefault(flag.tune_id, set()).add(flag.kind)
            continue  # out of the digest until its day
        end = evaluations[flag.tune_id].as_of
        open_flags.setdefault(flag.tune_id, []).append(
            FlagLine(
                flag.kind, flag.get_kind_display(), flag.opened_on, (end - flag.opened_on).days
            )
        )

    previous: dict[int, Any] = {}
    resolved: list[str] = []
    if as_of is not None:
        for row in (
            Evaluation.objects.filter(
                tune_id__in=evaluations,
                as_of__lte=as_of - WEEK,
                as_of__gte=as_of - COMPARE_WINDOW,
            )
            .order_by("as_of")
            .values("tune_id", "as_of", "verdict", "monthly_net_saving")
        ):
            if row["as_of"] <= evaluations[row["tune_id"]].as_of - WEEK:
                previous[row["tune_id"]] = row  # ordered by day: the last one wins
        for flag in (
            Flag.objects.filter(
                tune_id__in=[t.pk for t in tunes],
                resolved_on__gt=as_of - WEEK,
                resolved_on__lte=as_of,
            )
            .select_related("tune", "resolved_by")
            .order_by("resolved_on", "tune__name")
        ):
            now = f": now {Verdict(flag.resolved_by.verdict).label}" if flag.resolved_by else ""
            resolved.append(
                f"{flag.tune.name}: {flag.get_kind_display()} flag resolved on "
                f"{flag.resolved_on}{now}."
            )

    week_start = as_of - WEEK if as_of is not None else date.min  # no evaluations: no items
    items = []
    for tune in tunes:
        evaluation = evaluations.get(tune.pk)
        if evaluation is None:
            continue
        flags = open_flags.get(tune.pk, [])
        saving = _number(evaluation.monthly_net_saving)
        by_verdict = evaluation.verdict not in snoozed.get(tune.pk, ()) and (
            evaluation.verdict in LISTED_VERDICTS
            or (tune.status == FineTune.Status.DEPLOYED and saving is not None and saving <= 0)
        )
        listed = by_verdict or any(f.kind in LISTED_FLAGS for f in flags)
        if not listed:
            continue
        figures = evaluation.figures or {}
        items.append(
            DigestItem(
                tune_id=tune.pk,
                name=tune.name,
                team=tune.team.name,
                owner_email=tune.owner.email,
                status=tune.status,
                verdict=evaluation.verdict,
                as_of=evaluation.as_of,
                reason=evaluation.reason,
                monthly_net_saving=saving,
                payback_months=_number(figures.get("payback_months")),
                break_even_on=_day(figures.get("break_even_on")),
                expected_lifetime_months=_number(figures.get("expected_stable_lifetime_months")),
                base_model_shutdown_on=_day(figures.get("base_model_shutdown_on")),
                unrecovered_cost=_number(evaluation.unrecovered_cost),
                flags=tuple(flags),
                changes=_changes(evaluation, previous.get(tune.pk), flags, week_start),
                admin_url=admin_url(tune.pk),
                cited=_cited(evaluation.findings),
                page_url=page_url(tune.slug),
            )
        )
    items.sort(key=lambda i: (0 if i.needs_action else 1, ORDER.get(i.verdict, 9), i.name))
    return Digest(
        shutdown_notices=_shutdown_notices(scope),
        recipient_id=user.pk,
        email=user.email,
        name=user.get_full_name() or user.get_username(),
        whole_portfolio=whole,
        as_of=as_of,
        items=tuple(items),
        resolved=tuple(resolved),
        totals=_totals(tunes, evaluations, items, as_of),
    )


def _shutdown_notices(scope: QuerySet[FineTune]) -> tuple[str, ...]:
    lines = []
    today = timezone.localdate()
    for notice in recent_shutdown_notices(scope.values("pk"), today - WEEK):
        model = notice.tune.base_model
        successor = str(model.successor) if model.successor_id else "a successor"
        days_left = (notice.retrain_by - today).days
        left = f"{days_left} days left" if days_left >= 0 else f"{-days_left} days overdue"
        lines.append(
            f"{notice.tune.name}: retrain on {successor} and evaluate by {notice.retrain_by} "
            f"({left}); {model} shuts down on {model.shutdown_on}."
        )
    return tuple(lines)


def _totals(
    tunes: list[FineTune],
    evaluations: dict[int, Evaluation],
    items: list[DigestItem],
    as_of: date | None,
) -> Totals:
    """Realised savings this month: each deployed tune's queries since the 1st (up to the latest
    evaluation) at the per-query saving its latest evaluation measured, less its fixed cost for
    those days. Unrecovered training cost: summed over the listed deployed tunes."""
    verdicts: dict[str, int] = {}
    for evaluation in evaluations.values():
        verdicts[evaluation.verdict] = verdicts.get(evaluation.verdict, 0) + 1
    unrecovered = sum((i.unrecovered_cost or 0.0) for i in items if i.deployed)
    if as_of is None:
        return Totals(len(evaluations), verdicts, None, None, 0, unrecovered)
    month = as_of.replace(day=1)
    deployed = {
        t.pk: t for t in tunes if t.status == FineTune.Status.DEPLOYED and t.pk in evaluations
    }
    queries = dict(
        UsageRecord.objects.filter(tune_id__in=deployed, day__gte=month, day__lte=as_of)
        .values("tune_id")
        .annotate(q=Sum("queries"))
        .order_by()
        .values_list("tune_id", "q")
    )
    realised, unpriced = 0.0, 0
    for tune_id, tune in deployed.items():
        figures = evaluations[tune_id].figures or {}
        alternative = _number(figures.get("alternative_cost_per_query"))
        own = _number(figures.get("tune_cost_per_query"))
        count = queries.get(tune_id, 0) or 0
        if count and (alternative is None or own is None):
            unpriced += 1
            continue
        start = max(month, tune.deployed_on or month)
        days = max(0, (as_of - start).days + 1)
        fixed = float(tune.monthly_fixed_cost or Decimal(0)) * days / DAYS_PER_MONTH
        realised += count * ((alternative or 0.0) - (own or 0.0)) - fixed
    return Totals(len(evaluations), verdicts, month, realised, unpriced, unrecovered)
