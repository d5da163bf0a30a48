import uuid

import pytest

from opportunities.models import Opportunity

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")


@pytest.mark.django_db
def test_new_opportunity_is_open_with_its_own_uuid():
    first = Opportunity.objects.create(title="Mentor", owner_uuid=ALICE)
    second = Opportunity.objects.create(title="Review", owner_uuid=ALICE)
    assert first.status == Opportunity.Status.OPEN
    assert first.uuid != second.uuid
    assert first.budget is None
    assert list(Opportunity.objects.all()) == [second, first]  # newest first
