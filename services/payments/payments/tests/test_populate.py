import pytest
from django.core.management import CommandError, call_command

from payments.models import Payment


@pytest.mark.django_db
def test_populate_is_idempotent_and_offline(responses):
    call_command("populate", verbosity=0)
    rows = list(Payment.objects.order_by("uuid").values())
    call_command("populate", verbosity=0)
    assert list(Payment.objects.order_by("uuid").values()) == rows
    assert len(rows) == 3
    assert len(responses.calls) == 0


@pytest.mark.django_db
def test_malformed_yaml_names_file_and_line(settings, tmp_path):
    (tmp_path / "populator").mkdir()
    path = tmp_path / "populator" / "default.yaml"
    path.write_text("payments:\n  - uuid: 9a1d0000-0000-4000-8000-000000000001\n"
                    "    amount: [15\n")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match=f"^{path}:4: invalid YAML"):
        call_command("populate", verbosity=0)


@pytest.mark.django_db
def test_bad_amount_names_its_line(settings, tmp_path):
    (tmp_path / "populator").mkdir()
    path = tmp_path / "populator" / "default.yaml"
    path.write_text("payments:\n  - uuid: 9a1d0000-0000-4000-8000-000000000001\n"
                    "    event: e0e00000-0000-4000-8000-000000000001\n"
                    "    user: b0b00000-0000-4000-8000-000000000002\n"
                    "    amount: lots\n")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match=f"^{path}:5: field 'amount': 'lots' is not"):
        call_command("populate", verbosity=0)
