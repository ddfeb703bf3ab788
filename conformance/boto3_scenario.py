#!/usr/bin/python3
"""boto3 conformance scenario, driven by conformance/boto3.ts.

Run with Debian's /usr/bin/python3 (python3-boto3). Arguments: one JSON
object on argv[1] with url, accessKeyId, secretAccessKey, region, bucket,
work, small {path,size,sha256,md5}, big {...}, listKeys, allKeys,
rootListing, dirListing.

Protocol on stdout: "::step <name>" before a step, "::ok <name> <ms>" after
it, "::note <text>" for details. On failure the traceback and the last HTTP
request go to stderr and the exit status is 1.

Multipart: boto3's default TransferConfig (8 MiB threshold and parts), so the
50 MiB file goes up as a 7-part multipart upload and comes down in ranged GETs,
a 100 MiB one in 13 parts; the managed copy() of that object is a multipart
copy (UploadPartCopy, 8 MiB ranges).

Last, in a bucket of its own: Signature Version 2 (signature_version='s3':
Authorization: AWS, presigned GET and PUT) and browser-style form uploads
(generate_presigned_post, SigV2 and SigV4, sent as Python requests' files=
sends them: every part with a filename).
"""
import hashlib
import json
import os
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
work = args["work"]
small = args["small"]
big = args["big"]
MiB = 1024 * 1024

last_request = {}


def remember_request(request, **kwargs):
    last_request.clear()
    last_request.update(method=request.method, url=request.url, headers={k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})


s3 = boto3.client(
    "s3",
    endpoint_url=args["url"],
    aws_access_key_id=args["accessKeyId"],
    aws_secret_access_key=args["secretAccessKey"],
    region_name=args["region"],
    config=Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        # Test strictness only: a retried failure would hide a server bug.
        retries={"mode": "standard", "total_max_attempts": 1},
    ),
)
s3.meta.events.register("before-send.s3", remember_request)



def multipart_etag(path, part_size=8 * MiB):
    """The ETag S3 gives a file uploaded in parts of part_size: MD5 of the part MD5s, then -N."""
    sums = []
    with open(path, "rb") as f:
        while True:
            chunk = f.read(part_size)
            if not chunk:
                break
            sums.append(hashlib.md5(chunk).digest())
    return '"%s-%d"' % (hashlib.md5(b"".join(sums)).hexdigest(), len(sums))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def body_of(key):
    return ("content of %s\n" % key).encode()


def client_error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["ResponseMetadata"].get("HTTPStatusCode")
    raise AssertionError("expected a ClientError")


def refused(url, status, what):
    """Fetches url (GET) and asserts the server refused it with status."""
    last_request.update(method="GET", url=url, headers={})
    try:
        urllib.request.urlopen(url, timeout=60)
        raise AssertionError("accepted: " + what)
    except urllib.error.HTTPError as e:
        eq(e.code, status, "status of " + what)


def list_all_v2(**kw):
    """Follows ContinuationToken by hand; returns (keys, prefixes, pages)."""
    keys, prefixes, pages, token = [], [], 0, None
    while True:
        req = dict(Bucket=bucket, **kw)
        if token:
            req["ContinuationToken"] = token
        r = s3.list_objects_v2(**req)
        pages += 1
        eq(r["KeyCount"], len(r.get("Contents", [])) + len(r.get("CommonPrefixes", [])), "KeyCount of page %d" % pages)
        if "MaxKeys" in kw:
            assert r["KeyCount"] <= kw["MaxKeys"], "page of %d entries with MaxKeys %d" % (r["KeyCount"], kw["MaxKeys"])
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r, "NextContinuationToken on the last page"
            return keys, prefixes, pages
        token = r["NextContinuationToken"]
        assert pages < 100, "pagination does not end"


def main():
    note("boto3 %s, botocore %s" % (boto3.__version__, botocore.__version__))

    @step("create_bucket, head_bucket, get_bucket_location")
    def _():
        s3.create_bucket(Bucket=bucket)
        s3.head_bucket(Bucket=bucket)
        loc = s3.get_bucket_location(Bucket=bucket)
        eq(loc.get("LocationConstraint"), None, "LocationConstraint for us-east-1")
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert bucket in names, "bucket missing from list_buckets: %r" % names

    @step("put_object small with Metadata and ContentType")
    def _():
        with open(small["path"], "rb") as f:
            r = s3.put_object(Bucket=bucket, Key="blobs/small.bin", Body=f.read(), Metadata={"color": "blue", "x-y": "z w"}, ContentType="application/x-conformance")
        eq(r["ETag"], '"%s"' % small["md5"], "ETag")

    @step("head_object: metadata, size, ETag, type")
    def _():
        h = s3.head_object(Bucket=bucket, Key="blobs/small.bin")
        eq(h["Metadata"], {"color": "blue", "x-y": "z w"}, "Metadata")
        eq(h["ContentLength"], small["size"], "ContentLength")
        eq(h["ETag"], '"%s"' % small["md5"], "ETag")
        eq(h["ContentType"], "application/x-conformance", "ContentType")

    @step("get_object small, whole")
    def _():
        r = s3.get_object(Bucket=bucket, Key="blobs/small.bin")
        data = r["Body"].read()
        eq(hashlib.sha256(data).hexdigest(), small["sha256"], "SHA-256")
        eq(r["ContentLength"], small["size"], "ContentLength")
        eq(r["Metadata"], {"color": "blue", "x-y": "z w"}, "Metadata on GET")

    @step("get_object with Range (first, middle, suffix, open-ended)")
    def _():
        with open(small["path"], "rb") as f:
            data = f.read()
        n = len(data)
        for rng, lo, hi in [("bytes=0-0", 0, 0), ("bytes=100-1099", 100, 1099), ("bytes=-500", n - 500, n - 1), ("bytes=%d-" % (n - 10), n - 10, n - 1), ("bytes=5000-999999", 5000, n - 1)]:
            r = s3.get_object(Bucket=bucket, Key="blobs/small.bin", Range=rng)
            eq(r["ResponseMetadata"]["HTTPStatusCode"], 206, "status for " + rng)
            eq(r["ContentRange"], "bytes %d-%d/%d" % (lo, hi, n), "ContentRange for " + rng)
            eq(r["ContentLength"], hi - lo + 1, "ContentLength for " + rng)
            eq(r["Body"].read(), data[lo : hi + 1], "body for " + rng)
        code = client_error_code(lambda: s3.get_object(Bucket=bucket, Key="blobs/small.bin", Range="bytes=%d-" % (n + 10)))
        eq(code, ("InvalidRange", 416), "unsatisfiable range")

    @step("put_object with ChecksumAlgorithm SHA256, head_object ChecksumMode ENABLED")
    def _():
        import base64
        data = os.urandom(3000)
        want = base64.b64encode(hashlib.sha256(data).digest()).decode()
        r = s3.put_object(Bucket=bucket, Key="checksum/sha256.bin", Body=data, ChecksumAlgorithm="SHA256")
        eq(r.get("ChecksumSHA256"), want, "ChecksumSHA256 echoed by put_object")
        h = s3.head_object(Bucket=bucket, Key="checksum/sha256.bin", ChecksumMode="ENABLED")
        eq(h.get("ChecksumSHA256"), want, "ChecksumSHA256 from head_object")
        s3.delete_object(Bucket=bucket, Key="checksum/sha256.bin")

    @step("put_object with a wrong ContentMD5 or x-amz-checksum-sha256: BadDigest, nothing stored")
    def _():
        import base64
        data = os.urandom(3000)
        wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        eq(client_error_code(lambda: s3.put_object(Bucket=bucket, Key="bad/md5.bin", Body=data, ContentMD5=wrong_md5)), ("BadDigest", 400), "wrong Content-MD5")
        wrong_sha = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        code, status = client_error_code(lambda: s3.put_object(Bucket=bucket, Key="bad/sha.bin", Body=data, ChecksumSHA256=wrong_sha))
        eq((code in ("BadDigest", "XAmzContentChecksumMismatch", "InvalidRequest"), status), (True, 400), "wrong x-amz-checksum-sha256 (%s)" % code)
        for key in ("bad/md5.bin", "bad/sha.bin"):
            eq(client_error_code(lambda: s3.head_object(Bucket=bucket, Key=key))[1], 404, "refused upload " + key + " is absent")

    @step("upload_file big (default TransferConfig: multipart, 8 MiB parts)")
    def _():
        s3.upload_file(big["path"], bucket, "blobs/big.bin")
        h = s3.head_object(Bucket=bucket, Key="blobs/big.bin")
        eq(h["ContentLength"], big["size"], "ContentLength")
        eq(h["ETag"], multipart_etag(big["path"]), "ETag (MD5 of the part MD5s, -N)")
        p = s3.head_object(Bucket=bucket, Key="blobs/big.bin", PartNumber=1)
        eq(p["ContentLength"], 8 * MiB, "ContentLength of part 1")
        eq(p["PartsCount"], (big["size"] + 8 * MiB - 1) // (8 * MiB), "PartsCount")
        eq(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [], "no upload left in progress")

    @step("download_file big and compare SHA-256")
    def _():
        dest = os.path.join(work, "big.down")
        s3.download_file(bucket, "blobs/big.bin", dest)
        eq(sha256_file(dest), big["sha256"], "SHA-256 of the download")
        os.unlink(dest)

    huge = {"path": os.path.join(work, "huge.bin"), "size": 100 * MiB}

    @step("upload_file 100 MiB (default TransferConfig: 13 parts of 8 MiB), download_file, compare")
    def _():
        h = hashlib.sha256()
        with open(huge["path"], "wb") as f:
            for _ in range(huge["size"] // MiB):
                chunk = os.urandom(MiB)
                h.update(chunk)
                f.write(chunk)
        huge["sha256"] = h.hexdigest()
        s3.upload_file(huge["path"], bucket, "huge/huge.bin")
        head = s3.head_object(Bucket=bucket, Key="huge/huge.bin")
        eq(head["ContentLength"], huge["size"], "ContentLength")
        huge["etag"] = multipart_etag(huge["path"])
        eq(head["ETag"], huge["etag"], "ETag (13 parts)")
        dest = os.path.join(work, "huge.down")
        s3.download_file(bucket, "huge/huge.bin", dest)
        eq(sha256_file(dest), huge["sha256"], "SHA-256 of the download")
        os.unlink(dest)

    @step("copy (managed copy: UploadPartCopy in 8 MiB parts above 8 MiB, CopyObject below), read back")
    def _():
        s3.copy({"Bucket": bucket, "Key": "huge/huge.bin"}, bucket, "huge/copy.bin")
        head = s3.head_object(Bucket=bucket, Key="huge/copy.bin")
        eq(head["ContentLength"], huge["size"], "ContentLength of the copy")
        # Same part boundaries as the upload, so the same MD5-of-part-MD5s ETag.
        eq(head["ETag"], huge["etag"], "ETag of the multipart copy")
        dest = os.path.join(work, "copy.down")
        s3.download_file(bucket, "huge/copy.bin", dest)
        eq(sha256_file(dest), huge["sha256"], "SHA-256 of the copy")
        os.unlink(dest)
        s3.copy({"Bucket": bucket, "Key": "blobs/small.bin"}, bucket, "huge/small-copy.bin")
        h = s3.head_object(Bucket=bucket, Key="huge/small-copy.bin")
        eq(h["ETag"], '"%s"' % small["md5"], "ETag of the small managed copy (one CopyObject)")
        eq(h["Metadata"], {"color": "blue", "x-y": "z w"}, "Metadata of the small managed copy")
        eq(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [], "no upload left in progress")
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("huge/huge.bin", "huge/copy.bin", "huge/small-copy.bin")], "Quiet": True})
        eq(r.get("Errors", []), [], "Errors deleting huge/")
        os.unlink(huge["path"])

    @step("complete_multipart_upload retried after it succeeded: the same answer; another part list: NoSuchUpload")
    def _():
        key = "retried/complete.bin"
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        bodies = [os.urandom(5 * MiB), b"the last part"]
        parts = [
            {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=b)["ETag"]}
            for n, b in enumerate(bodies, 1)
        ]
        first = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        # As an SDK retries a Complete whose answer it did not get.
        again = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        eq([again["ETag"], again["Key"], again["Bucket"]], [first["ETag"], key, bucket], "the retried Complete's answer")
        eq(
            client_error_code(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts[:1]})),
            ("NoSuchUpload", 404),
            "a Complete of the completed upload with another part list",
        )
        eq(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), b"".join(bodies), "the object")
        s3.delete_object(Bucket=bucket, Key=key)

    @step("put_bucket_tagging, get_bucket_tagging, delete_bucket_tagging (NoSuchTagSet without one)")
    def _():
        eq(client_error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)), ("NoSuchTagSet", 404), "a bucket without tags")
        tags = [{"Key": "cost-centre", "Value": "R+D 42"}, {"Key": "team", "Value": "storage"}]
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
        eq(sorted(s3.get_bucket_tagging(Bucket=bucket)["TagSet"], key=lambda t: t["Key"]), tags, "TagSet after put_bucket_tagging")
        s3.delete_bucket_tagging(Bucket=bucket)
        eq(client_error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)), ("NoSuchTagSet", 404), "after delete_bucket_tagging")

    @step("put_object_tagging, get_object_tagging, put_object Tagging=, delete_object_tagging")
    def _():
        tags = [{"Key": "project", "Value": "aero store"}, {"Key": "tier", "Value": "gold+1"}]
        s3.put_object_tagging(Bucket=bucket, Key="blobs/small.bin", Tagging={"TagSet": tags})
        eq(sorted(s3.get_object_tagging(Bucket=bucket, Key="blobs/small.bin")["TagSet"], key=lambda t: t["Key"]), tags, "TagSet after put_object_tagging")
        eq(s3.head_object(Bucket=bucket, Key="blobs/small.bin").get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-tagging-count"), "2", "x-amz-tagging-count")
        s3.put_object(Bucket=bucket, Key="tagged.txt", Body=b"t", Tagging="a=1&b=two%20words")
        eq(sorted(s3.get_object_tagging(Bucket=bucket, Key="tagged.txt")["TagSet"], key=lambda t: t["Key"]), [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}], "TagSet from put_object Tagging=")
        eq(client_error_code(lambda: s3.put_object_tagging(Bucket=bucket, Key="tagged.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}] * 2})), ("InvalidTag", 400), "duplicate tag keys")
        s3.delete_object_tagging(Bucket=bucket, Key="blobs/small.bin")
        eq(s3.get_object_tagging(Bucket=bucket, Key="blobs/small.bin")["TagSet"], [], "TagSet after delete_object_tagging")
        s3.delete_object(Bucket=bucket, Key="tagged.txt")

    @step("put_object the listing keys (space, +, unicode)")
    def _():
        for key in args["listKeys"]:
            s3.put_object(Bucket=bucket, Key=key, Body=body_of(key))
        for key in (args["weirdKey"], args["oddKey"]):
            r = s3.get_object(Bucket=bucket, Key=key)
            eq(r["Body"].read(), body_of(key), "body of " + key)

    @step("list_objects_v2 Prefix/Delimiter")
    def _():
        r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
        eq([o["Key"] for o in r.get("Contents", [])], args["rootListing"]["keys"], "root keys")
        eq([p["Prefix"] for p in r.get("CommonPrefixes", [])], args["rootListing"]["prefixes"], "root common prefixes")
        eq(r["IsTruncated"], False, "IsTruncated")
        r = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
        eq(r["Prefix"], "dir/", "Prefix echoed")
        eq([o["Key"] for o in r.get("Contents", [])], args["dirListing"]["keys"], "dir/ keys")
        eq([p["Prefix"] for p in r.get("CommonPrefixes", [])], args["dirListing"]["prefixes"], "dir/ common prefixes")
        r = s3.list_objects_v2(Bucket=bucket, Prefix="nothing-here/")
        eq(r.get("Contents", []), [], "empty prefix")
        eq(r["KeyCount"], 0, "KeyCount of an empty listing")

    @step("list_objects_v2 pagination: MaxKeys 2 following ContinuationToken")
    def _():
        keys, prefixes, pages = list_all_v2(MaxKeys=2)
        eq(keys, args["allKeys"], "all keys over the pages")
        eq(prefixes, [], "no prefixes without a delimiter")
        eq(pages, (len(args["allKeys"]) + 1) // 2, "pages of 2 for %d keys" % len(args["allKeys"]))

    @step("list_objects_v2 pagination with Delimiter: MaxKeys 1 (keys and prefixes count alike)")
    def _():
        keys, prefixes, pages = list_all_v2(MaxKeys=1, Delimiter="/")
        eq(keys, args["rootListing"]["keys"], "keys")
        eq(prefixes, args["rootListing"]["prefixes"], "prefixes")
        eq(pages, len(args["rootListing"]["keys"]) + len(args["rootListing"]["prefixes"]), "pages of 1 entry")

    @step("list_objects_v2 StartAfter, and the paginator")
    def _():
        r = s3.list_objects_v2(Bucket=bucket, StartAfter="dir/a.txt")
        eq([o["Key"] for o in r.get("Contents", [])], [k for k in args["allKeys"] if k.encode() > b"dir/a.txt"], "keys after dir/a.txt")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4})
        eq([o["Key"] for p in pages for o in p.get("Contents", [])], args["allKeys"], "paginator keys")

    @step("list_objects (v1) pagination: MaxKeys 2 following Marker")
    def _():
        keys, marker = [], ""
        for _ in range(10):
            r = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker=marker)
            page = [o["Key"] for o in r.get("Contents", [])]
            keys += page
            if not r["IsTruncated"]:
                break
            marker = r.get("NextMarker") or page[-1]
        eq(keys, args["allKeys"], "all keys over v1 pages")

    @step("generate_presigned_url GET, fetched with urllib")
    def _():
        for key, expected in [("blobs/small.bin", small["sha256"])] + [(k, hashlib.sha256(body_of(k)).hexdigest()) for k in (args["weirdKey"], args["oddKey"])]:
            url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
            last_request.update(method="GET", url=url, headers={})
            with urllib.request.urlopen(url, timeout=60) as resp:
                eq(resp.status, 200, "status")
                eq(hashlib.sha256(resp.read()).hexdigest(), expected, "SHA-256 of presigned GET " + key)

    @step("generate_presigned_url PUT, uploaded with urllib, read back")
    def _():
        data = os.urandom(7000)
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned/put.bin"}, ExpiresIn=300)
        last_request.update(method="PUT", url=url, headers={})
        # urllib would otherwise label the body application/x-www-form-urlencoded.
        req = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            eq(resp.status, 200, "status")
            eq(resp.headers.get("ETag"), '"%s"' % hashlib.md5(data).hexdigest(), "ETag")
        r = s3.get_object(Bucket=bucket, Key="presigned/put.bin")
        eq(r["Body"].read(), data, "bytes read back")
        eq(r["ContentType"], "application/octet-stream", "ContentType")

    @step("presigned GET with a bad signature is refused (403)")
    def _():
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "blobs/small.bin"}, ExpiresIn=300)
        refused(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), 403, "a tampered presigned URL")

    @step("get_object / head_object of a missing key: NoSuchKey / 404")
    def _():
        eq(client_error_code(lambda: s3.get_object(Bucket=bucket, Key="no/such/key")), ("NoSuchKey", 404), "get_object")
        eq(client_error_code(lambda: s3.head_object(Bucket=bucket, Key="no/such/key"))[1], 404, "head_object status")

    @step("copy_object: COPY keeps metadata, REPLACE sets it, onto itself is InvalidRequest")
    def _():
        r = s3.copy_object(Bucket=bucket, Key="copy/small.bin", CopySource={"Bucket": bucket, "Key": "blobs/small.bin"})
        eq(r["CopyObjectResult"]["ETag"], '"%s"' % small["md5"], "CopyObjectResult.ETag")
        h = s3.head_object(Bucket=bucket, Key="copy/small.bin")
        eq(h["Metadata"], {"color": "blue", "x-y": "z w"}, "Metadata copied")
        eq(h["ContentType"], "application/x-conformance", "ContentType copied")
        s3.copy_object(Bucket=bucket, Key="copy/weird.txt", CopySource=bucket + "/" + args["weirdKey"], MetadataDirective="REPLACE", Metadata={"new": "1"}, ContentType="text/x-new")
        h = s3.head_object(Bucket=bucket, Key="copy/weird.txt")
        eq(h["Metadata"], {"new": "1"}, "Metadata after REPLACE")
        eq(h["ContentType"], "text/x-new", "ContentType after REPLACE")
        eq(s3.get_object(Bucket=bucket, Key="copy/weird.txt")["Body"].read(), body_of(args["weirdKey"]), "bytes of the copy")
        eq(client_error_code(lambda: s3.copy_object(Bucket=bucket, Key="copy/small.bin", CopySource={"Bucket": bucket, "Key": "copy/small.bin"})), ("InvalidRequest", 400), "copy onto itself")
        eq(client_error_code(lambda: s3.copy_object(Bucket=bucket, Key="copy/x", CopySource={"Bucket": bucket, "Key": "no/such/key"})), ("NoSuchKey", 404), "copy of a missing key")
        eq(client_error_code(lambda: s3.copy_object(Bucket=bucket, Key="copy/x", CopySource={"Bucket": bucket, "Key": "blobs/small.bin"}, CopySourceIfMatch='"0000"')), ("PreconditionFailed", 412), "CopySourceIfMatch that fails")

    @step("delete_objects (Content-MD5): Deleted for existing and missing keys, Quiet")
    def _():
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy/small.bin"}, {"Key": "copy/never-there"}]})
        eq(sorted(d["Key"] for d in r.get("Deleted", [])), ["copy/never-there", "copy/small.bin"], "Deleted")
        eq(r.get("Errors", []), [], "Errors")
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy/weird.txt"}], "Quiet": True})
        eq(r.get("Deleted", []), [], "Deleted in Quiet mode")
        eq(r.get("Errors", []), [], "Errors in Quiet mode")
        eq(s3.list_objects_v2(Bucket=bucket, Prefix="copy/").get("Contents", []), [], "keys left under copy/")

    @step("delete_bucket of a non-empty bucket: BucketNotEmpty")
    def _():
        eq(client_error_code(lambda: s3.delete_bucket(Bucket=bucket)), ("BucketNotEmpty", 409), "delete_bucket")

    @step("delete_object every key, bucket empty")
    def _():
        for key in args["allKeys"] + ["presigned/put.bin"]:
            r = s3.delete_object(Bucket=bucket, Key=key)
            eq(r["ResponseMetadata"]["HTTPStatusCode"], 204, "status of delete_object " + key)
        # Deleting a missing key is a success in S3.
        eq(s3.delete_object(Bucket=bucket, Key="no/such/key")["ResponseMetadata"]["HTTPStatusCode"], 204, "delete of a missing key")
        eq(s3.list_objects_v2(Bucket=bucket).get("Contents", []), [], "objects left")

    @step("delete_bucket, then head_bucket is 404")
    def _():
        s3.delete_bucket(Bucket=bucket)
        eq(client_error_code(lambda: s3.head_bucket(Bucket=bucket))[1], 404, "head_bucket status")
        eq(client_error_code(lambda: s3.list_objects_v2(Bucket=bucket)), ("NoSuchBucket", 404), "list of a deleted bucket")

    @step("get_object response-* overrides, signed and presigned (download-as links)")
    def _():
        # Last, in a bucket of its own, so that every other check has run first.
        b2 = bucket + "-hdr"
        s3.create_bucket(Bucket=b2)
        try:
            s3.put_object(Bucket=b2, Key="report.csv", Body=b"a,b\n", ContentType="text/csv")
            want = {
                "ResponseContentType": ("ContentType", "application/octet-stream"),
                "ResponseContentDisposition": ("ContentDisposition", 'attachment; filename="report 1.csv"'),
                "ResponseCacheControl": ("CacheControl", "no-store"),
                "ResponseContentLanguage": ("ContentLanguage", "en"),
            }
            r = s3.get_object(Bucket=b2, Key="report.csv", **{k: v for k, (_, v) in want.items()})
            for param, (field, value) in want.items():
                eq(r.get(field), value, "%s from %s on get_object" % (field, param))
            url = s3.generate_presigned_url("get_object", Params={"Bucket": b2, "Key": "report.csv", "ResponseContentDisposition": 'attachment; filename="report 1.csv"'}, ExpiresIn=300)
            last_request.update(method="GET", url=url, headers={})
            with urllib.request.urlopen(url, timeout=60) as resp:
                eq(resp.headers.get("Content-Disposition"), 'attachment; filename="report 1.csv"', "Content-Disposition of a presigned GET with response-content-disposition")
        finally:
            failing_request = dict(last_request)  # keep the request to report, not the cleanup's
            s3.delete_object(Bucket=b2, Key="report.csv")
            s3.delete_bucket(Bucket=b2)
            last_request.clear()
            last_request.update(failing_request)


def post_form(url, fields, file_name, file_body, content_type):
    """A browser-style form upload as Python `requests` sends it with files=:
    every part carries a filename (a plain value's is its field name), `file`
    last. Without requests, the same body by hand with urllib. Returns
    (status, headers, body)."""
    try:
        import requests
    except ImportError:
        requests = None
    if requests is not None:
        parts = [(k, v) for k, v in fields.items()] + [("file", (file_name, file_body, content_type))]
        r = requests.post(url, files=parts, allow_redirects=False, timeout=60)
        return r.status_code, r.headers, r.text
    boundary = "----conformance" + os.urandom(8).hex()
    chunks = []
    for name, value in list(fields.items()) + [("file", file_body)]:
        filename = file_name if name == "file" else name
        chunks.append(('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n\r\n' % (boundary, name, filename)).encode())
        chunks.append(value if isinstance(value, bytes) else value.encode())
        chunks.append(b"\r\n")
    chunks.append(("--%s--\r\n" % boundary).encode())
    req = urllib.request.Request(url, data=b"".join(chunks), method="POST", headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def legacy_and_forms():
    """Signature Version 2 (botocore's signature_version='s3') and form uploads, in a bucket of their own."""
    b3 = bucket + "-v2"
    v2 = boto3.client(
        "s3",
        endpoint_url=args["url"],
        aws_access_key_id=args["accessKeyId"],
        aws_secret_access_key=args["secretAccessKey"],
        region_name=args["region"],
        config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    v2.meta.events.register("before-send.s3", remember_request)

    @step("signature_version='s3' (SigV2): create_bucket, put/head/list with Authorization: AWS, presigned GET and PUT fetched with urllib")
    def _():
        v2.create_bucket(Bucket=b3)
        key = "a b/\u00fc+.txt"
        v2.put_object(Bucket=b3, Key=key, Body=b"legacy", Metadata={"signed": "v2"}, ContentType="text/plain")
        h = v2.head_object(Bucket=b3, Key=key)
        eq(h["Metadata"], {"signed": "v2"}, "Metadata put with SigV2")
        eq(h["ContentType"], "text/plain", "ContentType put with SigV2")
        # list_objects, not _v2: botocore signs a path-style ListObjectsV2 over `?list-type=2`, which is no
        # sub-resource, and S3 refuses it as this server does (boto/boto3#4433).
        eq([o["Key"] for o in v2.list_objects(Bucket=b3, Prefix="a ")["Contents"]], [key], "list_objects with SigV2")
        url = v2.generate_presigned_url("get_object", Params={"Bucket": b3, "Key": key}, ExpiresIn=300)
        assert "AWSAccessKeyId=" in url and "Expires=" in url and "Signature=" in url, "not a SigV2 URL: " + url
        last_request.update(method="GET", url=url, headers={})
        with urllib.request.urlopen(url, timeout=60) as resp:
            eq(resp.read(), b"legacy", "presigned SigV2 GET")
        data = os.urandom(3000)
        url = v2.generate_presigned_url("put_object", Params={"Bucket": b3, "Key": "presigned-v2.bin", "ContentType": "application/octet-stream"}, ExpiresIn=300)
        last_request.update(method="PUT", url=url, headers={})
        req = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            eq(resp.status, 200, "presigned SigV2 PUT")
        eq(s3.get_object(Bucket=b3, Key="presigned-v2.bin")["Body"].read(), data, "bytes of the presigned SigV2 PUT")
        url = v2.generate_presigned_url("get_object", Params={"Bucket": b3, "Key": key}, ExpiresIn=300)
        refused(url.replace("Signature=", "Signature=A"), 403, "a tampered SigV2 URL")

    @step("generate_presigned_post, SigV2 and SigV4, sent as requests' files= (every part with a filename): 204, 201 PostResponse; a bad signature 403")
    def _():
        for client, name in ((v2, "v2"), (s3, "v4")):
            post = client.generate_presigned_post(
                b3,
                "posted-%s/${filename}" % name,
                Fields={"acl": "private", "Content-Type": "text/plain"},
                Conditions=[{"acl": "private"}, {"Content-Type": "text/plain"}, ["content-length-range", 1, 1024]],
                ExpiresIn=300,
            )
            last_request.update(method="POST", url=post["url"], headers={})
            status, _, body = post_form(post["url"], post["fields"], "hello.txt", b"posted " + name.encode(), "text/plain")
            eq(status, 204, "status of a %s presigned POST (%s)" % (name, body))
            r = s3.get_object(Bucket=b3, Key="posted-%s/hello.txt" % name)
            eq(r["Body"].read(), b"posted " + name.encode(), "bytes of the %s form upload" % name)
            eq(r["ContentType"], "text/plain", "ContentType of the %s form upload" % name)
            post201 = client.generate_presigned_post(b3, "posted-%s/${filename}" % name, Fields={"success_action_status": "201"}, Conditions=[{"success_action_status": "201"}], ExpiresIn=300)
            status, _, body = post_form(post201["url"], post201["fields"], "made.txt", b"made", "text/plain")
            eq(status, 201, "status with success_action_status 201 (%s)" % body)
            assert "<Key>posted-%s/made.txt</Key>" % name in body and "<Bucket>%s</Bucket>" % b3 in body, "PostResponse: " + body
            sig = "signature" if name == "v2" else "x-amz-signature"
            fields = dict(post["fields"])
            fields[sig] = ("A" if fields[sig][0] != "A" else "B") + fields[sig][1:]
            status, _, body = post_form(post["url"], fields, "bad.txt", b"bad", "text/plain")
            eq(status, 403, "status of a %s form with a bad signature" % name)
            assert "<Code>SignatureDoesNotMatch</Code>" in body, body
        eq(client_error_code(lambda: s3.head_object(Bucket=b3, Key="posted-v2/bad.txt"))[1], 404, "the refused form stored nothing")

    @step("delete the SigV2 bucket's objects, then the bucket (SigV2)")
    def _():
        for o in s3.list_objects_v2(Bucket=b3).get("Contents", []):
            v2.delete_object(Bucket=b3, Key=o["Key"])
        v2.delete_bucket(Bucket=b3)


def object_lock():
    """Object lock (issue 18 §3), in a bucket of its own: governance with and without the bypass, compliance, legal hold."""
    import datetime

    b4 = bucket + "-lock"
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)

    @step("create_bucket ObjectLockEnabledForBucket: versioning Enabled; put/get_object_lock_configuration (GOVERNANCE, 1 day)")
    def _():
        s3.create_bucket(Bucket=b4, ObjectLockEnabledForBucket=True)
        eq(s3.get_bucket_versioning(Bucket=b4).get("Status"), "Enabled", "versioning of a lock bucket")
        s3.put_object_lock_configuration(
            Bucket=b4,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}},
        )
        rule = s3.get_object_lock_configuration(Bucket=b4)["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
        eq((rule["Mode"], rule["Days"]), ("GOVERNANCE", 1), "the default retention")

    @step("GOVERNANCE: delete_object(VersionId) AccessDenied, then with BypassGovernanceRetention deleted")
    def _():
        v = s3.put_object(Bucket=b4, Key="governed", Body=b"governed")["VersionId"]
        r = s3.head_object(Bucket=b4, Key="governed")
        eq(r["ObjectLockMode"], "GOVERNANCE", "the default retention's mode")
        eq(client_error_code(lambda: s3.delete_object(Bucket=b4, Key="governed", VersionId=v))[0], "AccessDenied", "deleting a governed version")
        s3.delete_object(Bucket=b4, Key="governed", VersionId=v, BypassGovernanceRetention=True)
        eq(client_error_code(lambda: s3.head_object(Bucket=b4, Key="governed", VersionId=v))[1], 404, "the bypassed version is gone")

    @step("COMPLIANCE: put_object_retention shortening and delete with the bypass both AccessDenied; get_object_retention")
    def _():
        v = s3.put_object(Bucket=b4, Key="compliant", Body=b"compliant", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)["VersionId"]
        got = s3.get_object_retention(Bucket=b4, Key="compliant", VersionId=v)["Retention"]
        eq(got["Mode"], "COMPLIANCE", "retention mode")
        eq(
            client_error_code(lambda: s3.delete_object(Bucket=b4, Key="compliant", VersionId=v, BypassGovernanceRetention=True))[0],
            "AccessDenied",
            "deleting a compliant version, even with the bypass",
        )
        sooner = until - datetime.timedelta(days=30)
        eq(
            client_error_code(lambda: s3.put_object_retention(Bucket=b4, Key="compliant", VersionId=v, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": sooner}, BypassGovernanceRetention=True))[0],
            "AccessDenied",
            "shortening a compliant retention",
        )
        eq(s3.get_object(Bucket=b4, Key="compliant", VersionId=v)["Body"].read(), b"compliant", "the compliant version")

    @step("legal hold: put_object_legal_hold ON blocks the bypassed delete; OFF lets it through")
    def _():
        v = s3.put_object(Bucket=b4, Key="held", Body=b"held", ObjectLockLegalHoldStatus="ON")["VersionId"]
        eq(s3.get_object_legal_hold(Bucket=b4, Key="held", VersionId=v)["LegalHold"]["Status"], "ON", "legal hold")
        s3.put_object_retention(Bucket=b4, Key="held", VersionId=v, Retention={}, BypassGovernanceRetention=True)
        eq(client_error_code(lambda: s3.delete_object(Bucket=b4, Key="held", VersionId=v, BypassGovernanceRetention=True))[0], "AccessDenied", "deleting a held version")
        s3.put_object_legal_hold(Bucket=b4, Key="held", VersionId=v, LegalHold={"Status": "OFF"})
        s3.delete_object(Bucket=b4, Key="held", VersionId=v)


try:
    main()
    legacy_and_forms()
    object_lock()
except Exception as e:
    traceback.print_exc()
    if isinstance(e, ClientError):
        print("response: %r" % (e.response,), file=sys.stderr)
    if last_request:
        print("last request: %s %s" % (last_request.get("method"), last_request.get("url")), file=sys.stderr)
        for k, v in last_request.get("headers", {}).items():
            print("  %s: %s" % (k, v), file=sys.stderr)
    print("::failed %s" % (current[0],), flush=True)
    sys.exit(1)
