import pytest
from django.core.management import CommandError, call_command

from convoykit.testing import populator_scenarios
from opportunities.models import Opportunity

DEFAULT = """\
    opportunities:
      - uuid: 0bb00000-0000-4000-8000-000000000001
        title: Mentor
        owner: a11ce000-0000-4000-8000-000000000001
        budget: "300.00"
      - uuid: 0bb00000-0000-4000-8000-000000000002
        title: Review
        owner: b0b00000-0000-4000-8000-000000000002
        status: closed
    """


@pytest.mark.django_db
def test_populate_is_idempotent():
    with populator_scenarios(default=DEFAULT):
        call_command("populate", verbosity=0)
        rows = list(Opportunity.objects.order_by("uuid").values())
        call_command("populate", verbosity=0)
    assert list(Opportunity.objects.order_by("uuid").values()) == rows
    assert [(row["title"], row["status"]) for row in rows] == [
        ("Mentor", "open"), ("Review", "closed")]


@pytest.mark.django_db
def test_missing_required_field_names_the_record_line():
    bad = """\
        opportunities:
          - uuid: 0bb00000-0000-4000-8000-000000000009
            title: Orphan
        """
    with populator_scenarios(default=bad) as directory:
        with pytest.raises(CommandError,
                           match=f"^{directory}/default.yaml:2: .*missing required field.*: owner"):
            call_command("populate", verbosity=0)
