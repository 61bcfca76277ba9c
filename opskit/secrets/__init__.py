"""SOPS + age in memory, generated Secrets, editing, the plaintext scan, KSOPS, mkcert TLS."""
