#!/usr/bin/python3
"""boto3 with web-identity credentials, driven by conformance/principals.ts (scenario boto3-sts).

Run with Debian's /usr/bin/python3 (python3-boto3). Arguments: one JSON
object on argv[1] with url, region, bucket (A's, not yet created),
otherBucket and otherKey (B's private bucket and an object in it), userId
(A's), token (A's JWT), expiredToken, forgedToken (signed with another secret),
otherUserId, otherAccessKeyId and otherSecretAccessKey (B's access key, for the
ACL grants A makes to B).

Protocol on stdout as boto3_scenario.py: "::step <name>", "::ok <name> <ms>",
"::note <text>", "::failed <name>" (traceback and the last request on stderr).
"""
import datetime
import json
import sys
import traceback
import urllib.error
import urllib.request

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


def s3_client(access_key_id, secret_access_key, session_token=None):
    """An S3 client on the server, path-style, SigV4, no retries, its requests remembered."""
    s3 = boto3.client(
        "s3",
        endpoint_url=args["url"],
        region_name=args["region"],
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    s3.meta.events.register("before-send.s3", remember_request)
    return s3


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
        state["s3"] = s3_client(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

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

    @step("as A: put_object with GrantRead to B; B (its access key) reads it, not its neighbour; get_object_acl, put_object_acl")
    def _():
        s3 = state["s3"]
        b = s3_client(args["otherAccessKeyId"], args["otherSecretAccessKey"])
        s3.put_object(Bucket=bucket, Key="acl/for-b.txt", Body=b"for B\n", GrantRead='id="%s"' % args["otherUserId"])
        s3.put_object(Bucket=bucket, Key="acl/neighbour.txt", Body=b"A only\n")
        eq(b.get_object(Bucket=bucket, Key="acl/for-b.txt")["Body"].read(), b"for B\n", "B's get_object of the granted object")
        eq(client_error(lambda: b.get_object(Bucket=bucket, Key="acl/neighbour.txt")), ("AccessDenied", 403), "B's get_object of its neighbour")
        eq(client_error(lambda: b.get_object_acl(Bucket=bucket, Key="acl/for-b.txt")), ("AccessDenied", 403), "B's get_object_acl (READ is not READ_ACP)")
        acl = s3.get_object_acl(Bucket=bucket, Key="acl/for-b.txt")
        eq(acl["Owner"]["ID"], args["userId"], "Owner.ID is A's user id")
        eq([(g["Grantee"]["Type"], g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]], [("CanonicalUser", args["otherUserId"], "READ")], "Grants")
        # FULL_CONTROL to B: B reads the ACL and changes it (to public-read: A's own bucket is A's to publish, not B's).
        s3.put_object_acl(
            Bucket=bucket,
            Key="acl/for-b.txt",
            AccessControlPolicy={
                "Owner": {"ID": args["userId"]},
                "Grants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": args["userId"]}, "Permission": "FULL_CONTROL"},
                    {"Grantee": {"Type": "CanonicalUser", "ID": args["otherUserId"]}, "Permission": "FULL_CONTROL"},
                ],
            },
        )
        eq(len(b.get_object_acl(Bucket=bucket, Key="acl/for-b.txt")["Grants"]), 2, "B reads the ACL with FULL_CONTROL")
        eq(client_error(lambda: b.put_object_acl(Bucket=bucket, Key="acl/for-b.txt", ACL="public-read")), ("AccessDenied", 403), "B makes A's object public")
        s3.put_object_acl(Bucket=bucket, Key="acl/for-b.txt", ACL="public-read")
        with urllib.request.urlopen("%s/%s/acl/for-b.txt" % (args["url"], bucket)) as r:
            eq(r.status, 200, "anonymous GET of the public-read object")
        try:
            urllib.request.urlopen("%s/%s/acl/neighbour.txt" % (args["url"], bucket))
            raise AssertionError("anonymous GET of the neighbour succeeded")
        except urllib.error.HTTPError as e:
            eq(e.code, 403, "anonymous GET of the neighbour")
        eq(client_error(lambda: s3.put_object(Bucket=bucket, Key="acl/email.txt", Body=b"x", GrantRead='emailAddress="b@example.com"')), ("UnresolvableGrantByEmailAddress", 400), "e-mail grantee")
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "acl/for-b.txt"}, {"Key": "acl/neighbour.txt"}]})

    @step("as A: put_bucket_acl with GrantRead and GrantWrite to B; B lists, reads, writes its own; B's grants are taken back")
    def _():
        s3 = state["s3"]
        b = s3_client(args["otherAccessKeyId"], args["otherSecretAccessKey"])
        s3.put_object(Bucket=bucket, Key="granted/by-a.txt", Body=b"A's\n")
        eq(client_error(lambda: b.list_objects_v2(Bucket=bucket, Prefix="granted/")), ("AccessDenied", 403), "B lists before the grant")
        s3.put_bucket_acl(Bucket=bucket, GrantRead='id="%s"' % args["otherUserId"], GrantWrite='id="%s"' % args["otherUserId"])
        grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        eq(sorted((g["Grantee"].get("ID"), g["Permission"]) for g in grants if g["Grantee"].get("ID") == args["otherUserId"]),
           [(args["otherUserId"], "READ"), (args["otherUserId"], "WRITE")], "get_bucket_acl names B")
        eq([o["Key"] for o in b.list_objects_v2(Bucket=bucket, Prefix="granted/")["Contents"]], ["granted/by-a.txt"], "B lists")
        eq(b.get_object(Bucket=bucket, Key="granted/by-a.txt")["Body"].read(), b"A's\n", "B reads")
        b.put_object(Bucket=bucket, Key="granted/by-b.txt", Body=b"B's\n")
        eq(client_error(lambda: b.put_object(Bucket=bucket, Key="granted/by-a.txt", Body=b"x")), ("AccessDenied", 403), "B overwrites A's")
        eq(client_error(lambda: b.get_bucket_acl(Bucket=bucket)), ("AccessDenied", 403), "B reads the bucket ACL (READ is not READ_ACP)")
        s3.put_bucket_acl(Bucket=bucket, ACL="private")
        eq(client_error(lambda: b.get_object(Bucket=bucket, Key="granted/by-a.txt")), ("AccessDenied", 403), "B reads after private")
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "granted/by-a.txt"}, {"Key": "granted/by-b.txt"}]})

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
