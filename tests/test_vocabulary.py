"""One vocabulary: the engine (decision/) owns the words; every copy in the app must agree."""

import dataclasses

from django.db.models import NOT_PROVIDED

from decision import Policy, vocabulary
from tracker.admin import FineTuneAdmin
from tracker.api.serializers import TuneFieldsSerializer, TuneSerializer
from tracker.models import (
    ENGINE_TUNE_FIELDS,
    ChangeLogEntry,
    DecisionPolicy,
    FineTune,
    Flag,
    Verdict,
)
from tracker.selectors.portfolio import TUNE_FIELDS
from tracker.services.portfolio import EDITABLE_FIELDS


def _choices(enum, labels):
    return [(word.value, labels[word]) for word in enum]


def test_django_choices_are_the_engine_words():
    assert Verdict.choices == _choices(vocabulary.Verdict, vocabulary.VERDICT_LABELS)
    assert FineTune.Status.choices == _choices(vocabulary.TuneStatus, vocabulary.STATUS_LABELS)
    assert ChangeLogEntry.Kind.choices == _choices(
        vocabulary.ChangeKind, vocabulary.CHANGE_KIND_LABELS
    )
    assert set(ChangeLogEntry.TASK_CHANGE_KINDS) == set(vocabulary.TASK_CHANGE_KINDS)
    assert FineTune._meta.get_field("status").choices == FineTune.Status.choices
    assert set(Flag.Kind.values) <= set(vocabulary.Verdict)  # a flag is raised by a verdict


def test_every_tune_field_the_engine_reads_exists_everywhere_a_tune_is_written_or_read():
    engine = vocabulary.tune_fields()
    assert list(ENGINE_TUNE_FIELDS) == list(engine)
    model_fields = set(ENGINE_TUNE_FIELDS.values())
    for name in model_fields:
        FineTune._meta.get_field(name)  # raises FieldDoesNotExist
    assert set(TUNE_FIELDS) == {"tune_id", *engine}  # the selector that builds the frame
    assert model_fields <= EDITABLE_FIELDS  # the service that edits a tune
    assert model_fields <= set(TuneSerializer.Meta.fields)  # what the API shows
    assert model_fields <= set(TuneFieldsSerializer().fields)  # what the API takes
    admin_fields = {name for _, options in FineTuneAdmin.fieldsets for name in options["fields"]}
    assert model_fields <= admin_fields  # what the admin edits


def test_the_policy_model_has_the_engine_policy_fields_and_defaults():
    engine = vocabulary.policy_fields()
    stored = {
        field.name: field.default
        for field in DecisionPolicy._meta.concrete_fields
        if field.name not in {"id", "updated_at"}
    }
    assert stored == engine
    assert NOT_PROVIDED not in stored.values()
    assert [f.name for f in dataclasses.fields(Policy)] == list(engine)


def test_finding_codes_are_unique_words():
    codes = vocabulary.finding_codes()
    assert all(code == code.lower() and " " not in code for code in codes)
    assert {"no_longer_pays_off", "q3_too_few_examples", "prices_moved"} <= codes


def test_every_figure_and_policy_threshold_reads_with_the_engine_label():
    from decision.engine import FIGURE_KEYS
    from decision.fmt import FIGURE_LABELS, POLICY_LABELS
    from decision.vocabulary import policy_fields
    from tracker import display

    assert [key for key in FIGURE_KEYS if key not in FIGURE_LABELS] == []
    assert [key for key in FIGURE_KEYS if key not in display.FIGURES] == []
    assert set(POLICY_LABELS) == set(display.POLICY) == set(policy_fields())


def test_the_summary_counts_every_verdict():
    from tracker.api.serializers import VerdictCountsSerializer
    from tracker.selectors.summary import UNEVALUATED

    assert list(VerdictCountsSerializer().fields) == [*(v.value for v in Verdict), UNEVALUATED]
