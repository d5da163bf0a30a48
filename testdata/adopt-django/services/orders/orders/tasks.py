from celery import shared_task

from orders.models import Order


@shared_task
def confirm_order(order_id):
    Order.objects.filter(id=order_id, status="pending").update(status="confirmed")
