from django.core.validators import RegexValidator
from django.db import models

isbn13 = RegexValidator(r"^97[89][0-9]{10}$", "an ISBN-13: 13 digits starting 978 or 979")


class Book(models.Model):
    """A title the library holds, known to every service by its ISBN-13."""

    isbn = models.CharField(max_length=13, unique=True, validators=[isbn13])
    title = models.CharField(max_length=200)
    author = models.CharField(max_length=200, blank=True)
    year = models.PositiveIntegerField(null=True, blank=True)
    copies = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["title", "isbn"]

    def __str__(self):
        return f"{self.title} ({self.isbn})"
