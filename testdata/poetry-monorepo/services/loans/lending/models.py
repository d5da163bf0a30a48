from django.db import models


class Loan(models.Model):
    """A copy of a catalog book (by ISBN-13) lent to a member until a due date."""

    isbn = models.CharField(max_length=13, db_index=True)
    member = models.CharField(max_length=100)
    due = models.DateField()

    class Meta:
        ordering = ["due", "id"]
        constraints = [models.UniqueConstraint(fields=["isbn", "member"], name="one_copy_per_member")]

    def __str__(self):
        return f"{self.isbn} to {self.member} until {self.due}"
