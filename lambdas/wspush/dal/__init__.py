"""The only code that talks to AWS. boto3 errors are translated to ``errors`` here."""
