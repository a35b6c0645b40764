"""Web admin for agencies and the installation (Flask)."""
