"""The job domain: model, states and transitions, request validation. No AWS, no Lambda events."""
