"""The functions' zip staged in the emulator's S3, as a CI pipeline stages a release.

The AWS provider creates a Lambda function from a local ``filename`` one at a time: it
holds a process-wide lock ("only reading one function into memory at a time") through the
wait for the function to become active, which polls every 5 s, so seven functions take
seven times 5 s in series. Functions created from an S3 object take no lock and are
created together. So the root configuration gets ``lambda_package`` as an S3 object: the
zip under a key named by its SHA-256, so a changed zip is a changed variable (and the
snapshot's key changes with it), and an unchanged one is the same object.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACT_BUCKET = "wspush-local-artifacts"
KEY_PREFIX = "wspush/"


@dataclass(frozen=True)
class StagedPackage:
    zip: Path
    bucket: str
    key: str

    @classmethod
    def of(cls, zip_path: Path, bucket: str = ARTIFACT_BUCKET) -> StagedPackage:
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
        return cls(zip_path, bucket, f"{KEY_PREFIX}{digest}.zip")

    def variable(self) -> str:
        """The root's ``lambda_package`` (a map of strings) as ``-var`` takes it."""
        return json.dumps({"s3_bucket": self.bucket, "s3_key": self.key})

    def upload(self, s3: Any) -> None:
        """Make the object exist in ``s3`` (the bucket too), before an apply reads it.
        Older zips under the prefix are deleted: a function keeps its own copy of the code,
        and every object left would grow each snapshot of the emulator by the zip's size."""
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            s3.create_bucket(Bucket=self.bucket)
        listed = s3.list_objects_v2(Bucket=self.bucket, Prefix=KEY_PREFIX).get("Contents", [])
        keys = {item["Key"] for item in listed}
        if self.key not in keys:
            s3.put_object(Bucket=self.bucket, Key=self.key, Body=self.zip.read_bytes())
        for old in sorted(keys - {self.key}):
            s3.delete_object(Bucket=self.bucket, Key=old)
