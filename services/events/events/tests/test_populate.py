import pytest
from django.core.management import CommandError, call_command

from convoykit.testing import populator_scenarios
from events.models import Attendee, Event

DEFAULT = """\
    events:
      - uuid: e0e00000-0000-4000-8000-000000000001
        title: PyDay
        starts_at: 2026-06-21T10:00:00Z
        price: "15.00"
        organizer: a11ce000-0000-4000-8000-000000000001
        attendees: [b0b00000-0000-4000-8000-000000000002]
    """
DEMO = """\
    events:
      - uuid: e0e00000-0000-4000-8000-000000000002
        title: Sprint
        starts_at: 2026-07-04T09:00:00+02:00
        organizer: b0b00000-0000-4000-8000-000000000002
    """


def snapshot():
    return (list(Event.objects.order_by("uuid").values()),
            sorted(Attendee.objects.values_list("event__uuid", "user_uuid")))


@pytest.mark.django_db
def test_populate_loads_every_scenario_idempotently():
    with populator_scenarios(default=DEFAULT, demo=DEMO):
        call_command("populate", verbosity=0)
        first = snapshot()
        call_command("populate", verbosity=0)
    assert snapshot() == first
    assert Event.objects.count() == 2
    assert [str(a.user_uuid) for a in Event.objects.get(title="PyDay").attendees.all()] == [
        "b0b00000-0000-4000-8000-000000000002"]


@pytest.mark.django_db
def test_populate_loads_the_named_scenario_only():
    with populator_scenarios(default=DEFAULT, demo=DEMO):
        call_command("populate", scenarios=["demo"], verbosity=0)
    assert list(Event.objects.values_list("title", flat=True)) == ["Sprint"]


@pytest.mark.django_db
def test_unknown_scenario_is_an_error():
    with populator_scenarios(default=DEFAULT):
        with pytest.raises(CommandError, match=r"unknown scenario\(s\) nope .*available: default"):
            call_command("populate", scenarios=["nope"], verbosity=0)


@pytest.mark.django_db
def test_invalid_scenario_names_file_and_line_and_writes_nothing():
    bad = "events:\n  - title: No uuid\n    when: tomorrow\n"
    with populator_scenarios(default=DEFAULT, demo=bad) as directory:
        with pytest.raises(CommandError, match=f"^{directory}/demo.yaml:3: unknown field 'when'"):
            call_command("populate", verbosity=0)
    assert not Event.objects.exists()
