from django.db import models


class Order(models.Model):
    product = models.IntegerField()
    status = models.CharField(max_length=16, default="pending")
