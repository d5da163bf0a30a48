from servicekit.commands import PopulateCommand
from servicekit.populator import Field, integer, text

from books.models import Book


class Command(PopulateCommand):
    schema = {
        "books": {
            "isbn": Field(text),
            "title": Field(text),
            "author": Field(text, default=""),
            "year": Field(integer, default=None),
            "copies": Field(integer, default=1),
        },
    }

    def apply(self, record):
        values = dict(record.values)
        book = Book(**values)
        book.full_clean(validate_unique=False)
        Book.objects.update_or_create(isbn=values.pop("isbn"), defaults=values)
