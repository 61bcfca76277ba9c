"""Kubernetes API level: Secrets carry the keys the workloads read (names only, never values)."""

import pytest

EXPECTED = {
    "api-secrets": {"SECRET_KEY_BASE", "DATABASE_URL", "REDIS_URL"},
    "postgres-credentials": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
}


@pytest.mark.parametrize("secret", sorted(EXPECTED))
def test_secret_has_the_expected_keys(k8s, secret):
    missing = EXPECTED[secret] - k8s.key_names(secret)
    assert not missing, f"Secret {secret} lacks keys {sorted(missing)}"
