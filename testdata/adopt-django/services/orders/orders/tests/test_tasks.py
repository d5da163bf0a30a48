import pytest

from orders.models import Order
from orders.tasks import confirm_order


@pytest.mark.django_db
def test_confirm_order_confirms_a_pending_order():
    order = Order.objects.create(product=1)
    confirm_order(order.id)
    order.refresh_from_db()
    assert order.status == "confirmed"
