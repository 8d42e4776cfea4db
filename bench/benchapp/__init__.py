"""The benchmark's model, the same for Django 1.1.4 and Django 1.11."""
