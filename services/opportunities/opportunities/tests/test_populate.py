import pytest
from django.core.management import CommandError, call_command

from opportunities.models import Opportunity


@pytest.mark.django_db
def test_populate_is_idempotent():
    call_command("populate", verbosity=0)
    rows = list(Opportunity.objects.order_by("uuid").values())
    call_command("populate", verbosity=0)
    assert list(Opportunity.objects.order_by("uuid").values()) == rows
    assert len(rows) == 3
    assert Opportunity.objects.get(title="Review the events API").status == "closed"


@pytest.mark.django_db
def test_missing_required_field_names_the_record_line(settings, tmp_path):
    (tmp_path / "populator").mkdir()
    path = tmp_path / "populator" / "default.yaml"
    path.write_text("opportunities:\n  - uuid: 0bb00000-0000-4000-8000-000000000009\n"
                    "    title: Orphan\n  - title: second\n")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match=f"^{path}:2: .*missing required field.*: owner"):
        call_command("populate", verbosity=0)
