"""Value types shared by the logic and data-access layers."""
