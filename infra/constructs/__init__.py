"""One construct per concern: storage, engine, workflow, api, notifications, observability."""
