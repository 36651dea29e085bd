#!/usr/bin/env python3
"""Prepares a fresh moto server for the tests and prints shell exports: the relay's user
with exactly the S3 policy docs/DEPLOY.md gives the ECS task role, a user that may only
read, and a bucket created by an administrator. moto lets the first 9 calls (three per
user) through unauthenticated; every call after them is signed and checked."""
import json
import sys

import boto3

endpoint = sys.argv[1]
bucket = "hh-relay-test"
objects = f"arn:aws:s3:::{bucket}/*"
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")


def user(name, *statements):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


relay = user("relay",
             {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], "Resource": objects},
             {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}",
              "Condition": {"StringLike": {"s3:prefix": ["test-*"]}}})
reader = user("reader", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects})
admin = user("admin", {"Effect": "Allow", "Action": "*", "Resource": "*"})
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=admin[0], aws_secret_access_key=admin[1])
s3.create_bucket(Bucket=bucket)

print(f"export HH_TEST_S3_ENDPOINT={endpoint}")
print(f"export HH_TEST_S3_BUCKET={bucket}")
print(f"export HH_TEST_S3_ACCESS_KEY_ID={relay[0]}")
print(f"export HH_TEST_S3_SECRET_ACCESS_KEY={relay[1]}")
print(f"export HH_TEST_S3_READONLY_ACCESS_KEY_ID={reader[0]}")
print(f"export HH_TEST_S3_READONLY_SECRET_ACCESS_KEY={reader[1]}")
