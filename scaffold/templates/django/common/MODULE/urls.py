from django.urls import path

from . import views

urlpatterns = [
    path("items", views.ItemList.as_view()),
    path("items/<uuid:uuid>", views.ItemDetail.as_view()),
]
