import datetime

import pytest
from django.core.management import CommandError, call_command

from lending.models import Loan

DEFAULT = """\
loans:
  - isbn: "9780141439518"
    member: ada
    due: 2026-12-24
"""


@pytest.fixture
def scenarios(settings, tmp_path):
    settings.POPULATOR_DIR = tmp_path

    def write(**files):
        for name, content in files.items():
            (tmp_path / f"{name}.yaml").write_text(content)
        return tmp_path
    return write


@pytest.mark.django_db
def test_populate_loads_a_scenario_idempotently(scenarios):
    scenarios(default=DEFAULT)
    call_command("populate", verbosity=0)
    call_command("populate", verbosity=0)
    assert list(Loan.objects.values_list("isbn", "member", "due")) == [
        ("9780141439518", "ada", datetime.date(2026, 12, 24))]


@pytest.mark.django_db
def test_a_bad_date_names_file_and_line(scenarios):
    directory = scenarios(default=DEFAULT + "  - isbn: '9780553213119'\n    member: grace\n    due: soon\n")
    with pytest.raises(CommandError, match=f"^{directory}/default.yaml:5: due: expected a date"):
        call_command("populate", verbosity=0)
    assert not Loan.objects.exists()
