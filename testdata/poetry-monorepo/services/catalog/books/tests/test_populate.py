import pytest
from django.core.management import CommandError, call_command

from books.models import Book

DEFAULT = """\
books:
  - isbn: "9780141439518"
    title: Pride and Prejudice
    copies: 3
"""
DEMO = """\
books:
  - isbn: "9780140449136"
    title: Crime and Punishment
"""


@pytest.fixture
def scenarios(settings, tmp_path):
    """Point the populator at tmp_path and return a function that writes scenarios there."""
    settings.POPULATOR_DIR = tmp_path

    def write(**files):
        for name, content in files.items():
            (tmp_path / f"{name}.yaml").write_text(content)
        return tmp_path
    return write


def rows():
    return list(Book.objects.order_by("isbn").values_list("isbn", "title", "copies"))


@pytest.mark.django_db
def test_populate_loads_every_scenario_idempotently(scenarios):
    scenarios(default=DEFAULT, demo=DEMO)
    call_command("populate", verbosity=0)
    first = rows()
    call_command("populate", verbosity=0)
    assert rows() == first == [("9780140449136", "Crime and Punishment", 1),
                               ("9780141439518", "Pride and Prejudice", 3)]


@pytest.mark.django_db
def test_populate_loads_the_named_scenario_only(scenarios):
    scenarios(default=DEFAULT, demo=DEMO)
    call_command("populate", scenarios=["demo"], verbosity=0)
    assert [isbn for isbn, _, _ in rows()] == ["9780140449136"]


@pytest.mark.django_db
def test_an_unknown_scenario_is_an_error(scenarios):
    scenarios(default=DEFAULT)
    with pytest.raises(CommandError, match=r"unknown scenario\(s\) nope .*available: default"):
        call_command("populate", scenarios=["nope"], verbosity=0)


@pytest.mark.django_db
@pytest.mark.parametrize("scenario, error", [
    ("books:\n  - isbn: '9780140449136'\n    titel: Typo\n", r"demo.yaml:2: unknown field 'titel' in books"),
    ("books:\n  - title: No ISBN\n", r"demo.yaml:2: books record lacks required field 'isbn'"),
    ("books:\n  - isbn: '9780140449136'\n    title: T\n  - isbn: '123'\n    title: Bad\n",
     r"demo.yaml:4: .*an ISBN-13"),
    ("shelves: []\n", r"demo.yaml: unknown kind 'shelves'"),
])
def test_an_invalid_scenario_names_file_and_line_and_writes_nothing(scenarios, scenario, error):
    directory = scenarios(default=DEFAULT, demo=scenario)
    with pytest.raises(CommandError, match=f"^{directory}/{error}"):
        call_command("populate", verbosity=0)
    assert not Book.objects.exists()
