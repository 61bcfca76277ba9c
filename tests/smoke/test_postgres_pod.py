"""Inside the postgres pod (testinfra): the server accepts connections."""

import pytest


@pytest.fixture
def host(pod_host):
    return pod_host("postgres", container="postgres")


def test_postgres_answers(host):
    assert host.run("pg_isready -h 127.0.0.1 -p 5432").rc == 0
