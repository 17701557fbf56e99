# pam/ builds nothing yet.
