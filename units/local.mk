# units/ builds nothing yet.
