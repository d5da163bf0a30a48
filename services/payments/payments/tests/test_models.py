import uuid
from decimal import Decimal

import pytest

from payments.models import Payment

BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")
EVENT = uuid.UUID("e0e00000-0000-4000-8000-000000000001")


@pytest.mark.django_db
def test_new_payment_is_pending_in_euros():
    payment = Payment.objects.create(event_uuid=EVENT, user_uuid=BOB, amount=Decimal("15.00"))
    payment.refresh_from_db()
    assert (payment.status, payment.currency, payment.amount) == ("pending", "EUR", Decimal("15"))
    assert str(payment) == f"15.00 EUR by {BOB} for {EVENT}"
