"""Device and dtype choice, seeding, batch sizing."""
