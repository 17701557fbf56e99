# man/ builds nothing yet.
