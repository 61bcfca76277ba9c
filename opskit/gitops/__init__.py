"""ArgoCD install/bootstrap/wait, releases pinned in git and watched, monitoring."""
