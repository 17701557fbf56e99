# etc/ builds nothing yet.
