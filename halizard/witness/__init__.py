"""The witness: a third-machine vote for 2-host pools (`ha-lizard witness`), its protocol and model."""
