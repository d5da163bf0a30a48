import pytest
from django.core.management import CommandError, call_command

from convoykit.testing import populator_scenarios
from payments.models import Payment

DEFAULT = """\
    payments:
      - uuid: 9a1d0000-0000-4000-8000-000000000001
        event: e0e00000-0000-4000-8000-000000000001
        user: b0b00000-0000-4000-8000-000000000002
        amount: "15.00"
        status: paid
    """


@pytest.mark.django_db
def test_populate_is_idempotent_and_offline(responses):
    with populator_scenarios(default=DEFAULT):
        call_command("populate", verbosity=0)
        rows = list(Payment.objects.values())
        call_command("populate", verbosity=0)
    assert list(Payment.objects.values()) == rows
    assert [(row["amount"], row["status"]) for row in rows] == [(15, "paid")]
    assert len(responses.calls) == 0


@pytest.mark.django_db
def test_malformed_yaml_names_file_and_line():
    with populator_scenarios(default="payments:\n  - amount: [15\n") as directory:
        with pytest.raises(CommandError, match=f"^{directory}/default.yaml:3: invalid YAML"):
            call_command("populate", verbosity=0)


@pytest.mark.django_db
def test_bad_amount_names_its_line():
    bad = DEFAULT.replace('"15.00"', "lots")
    with populator_scenarios(default=bad) as directory:
        with pytest.raises(CommandError, match=f"^{directory}/default.yaml:5: field 'amount'"):
            call_command("populate", verbosity=0)
