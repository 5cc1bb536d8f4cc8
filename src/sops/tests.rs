//! Unit tests for the SOPS reader (files made by hand; integration tests use the real sops).
