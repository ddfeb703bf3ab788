#!/usr/bin/python3
"""boto3 with web-identity credentials, driven by conformance/principals.ts (scenario boto3-sts).

Run with Debian's /usr/bin/python3 (python3-boto3). Arguments: one JSON
object on argv[1] with url, region, bucket (A's, not yet created),
otherBucket and otherKey (B's private bucket and an object in it), userId
(A's), token (A's JWT), expiredToken, forgedToken (signed with another secret).

Protocol on stdout as boto3_scenario.py: "::step <name>", "::ok <name> <ms>",
"::note <text>", "::failed <name>" (traceback and the last request on stderr).
"""
import datetime
import json
import sys
import traceback

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

from py_steps import current, eq, note, out, step

args = json.loads(sys.argv[1])
bucket = args["bucket"]
STRICT = Config(retries={"mode": "standard", "total_max_attempts": 1})

last_request = {}


def remember_request(request, **kwargs):
    last_request.clear()
    last_request.update(method=request.method, url=request.url, headers={k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})


# The STS call carries no signature a server could check (AWS documents
# AssumeRoleWithWebIdentity as unsigned): the dummy keys only satisfy boto3.
sts = boto3.client(
    "sts",
    endpoint_url=args["url"],
    region_name=args["region"],
    aws_access_key_id="x",
    aws_secret_access_key="x",
    config=STRICT,
)
sts.meta.events.register("before-send.sts", remember_request)


def client_error(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["ResponseMetadata"].get("HTTPStatusCode")
    raise AssertionError("expected a ClientError")


def assume(token, duration=900):
    return sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::000000000000:role/web",
        RoleSessionName="conformance",
        WebIdentityToken=token,
        DurationSeconds=duration,
    )


state = {}


def main():
    note("boto3 %s, botocore %s" % (boto3.__version__, botocore.__version__))

    @step("sts.assume_role_with_web_identity with A's JWT (DurationSeconds=900)")
    def _():
        r = assume(args["token"])
        creds = r["Credentials"]
        assert creds["AccessKeyId"].startswith("ASIA"), creds["AccessKeyId"]
        assert creds["SecretAccessKey"] and creds["SessionToken"], "SecretAccessKey and SessionToken"
        left = (creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        assert 800 < left <= 905, "Expiration %s is not ~900 s away" % creds["Expiration"]
        eq(r.get("SubjectFromWebIdentityToken"), args["userId"], "SubjectFromWebIdentityToken")
        note("AccessKeyId %s, AssumedRoleUser %s" % (creds["AccessKeyId"], r["AssumedRoleUser"]["Arn"]))
        s3 = boto3.client(
            "s3",
            endpoint_url=args["url"],
            region_name=args["region"],
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1}),
        )
        s3.meta.events.register("before-send.s3", remember_request)
        state["s3"] = s3

    @step("as A: create_bucket, put_object, get_object, list_objects_v2, delete_object")
    def _():
        s3 = state["s3"]
        body = b"written by A with STS credentials\n"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="sts/hello.txt", Body=body)
        eq(s3.get_object(Bucket=bucket, Key="sts/hello.txt")["Body"].read(), body, "get_object body")
        eq([o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])], ["sts/hello.txt"], "list_objects_v2 keys")
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert bucket in names, "bucket missing from list_buckets: %r" % names
        assert args["otherBucket"] not in names, "B's private bucket shown to A: %r" % names
        s3.delete_object(Bucket=bucket, Key="sts/hello.txt")
        eq(s3.list_objects_v2(Bucket=bucket).get("Contents", []), [], "keys after delete_object")

    @step("as A: B's private bucket is AccessDenied (get, list, put, delete)")
    def _():
        s3 = state["s3"]
        other, key = args["otherBucket"], args["otherKey"]
        eq(client_error(lambda: s3.get_object(Bucket=other, Key=key)), ("AccessDenied", 403), "get_object in B's bucket")
        eq(client_error(lambda: s3.list_objects_v2(Bucket=other)), ("AccessDenied", 403), "list_objects_v2 of B's bucket")
        eq(client_error(lambda: s3.put_object(Bucket=other, Key="from-a.txt", Body=b"x")), ("AccessDenied", 403), "put_object into B's bucket")
        eq(client_error(lambda: s3.delete_object(Bucket=other, Key=key)), ("AccessDenied", 403), "delete_object in B's bucket")

    @step("as A: delete_bucket")
    def _():
        state["s3"].delete_bucket(Bucket=bucket)

    @step("assume_role_with_web_identity with an expired JWT: ExpiredTokenException")
    def _():
        eq(client_error(lambda: assume(args["expiredToken"])), ("ExpiredTokenException", 400), "expired JWT")

    @step("assume_role_with_web_identity with a JWT signed with another secret: InvalidIdentityToken")
    def _():
        eq(client_error(lambda: assume(args["forgedToken"])), ("InvalidIdentityToken", 400), "forged JWT")


try:
    main()
except Exception:
    traceback.print_exc()
    if last_request:
        print("last request: %s" % json.dumps(last_request, indent=2), file=sys.stderr)
    print("::failed %s" % (current[0],), flush=True)
    sys.exit(1)
