"""The chat_moderation example's own function: wspush's client publish hook."""
