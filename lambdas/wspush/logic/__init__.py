"""Rules of wspush; nothing here knows about Lambda events or boto3."""
