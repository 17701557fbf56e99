# daemon/scep.mk: the SCEP engine.
