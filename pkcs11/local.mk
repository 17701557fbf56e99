# pkcs11/ builds nothing yet.
