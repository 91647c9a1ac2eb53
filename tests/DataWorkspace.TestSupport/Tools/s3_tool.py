"""A tool that uses S3 as tools do, through boto3 and only what its environment gives it.

Serves GET /<operation>?<arguments> on 127.0.0.1:<port> (its first argument) and answers JSON: "ok", S3's error code
when refused, and the access keys its S3 calls were signed with.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")
bucket = os.environ["S3_BUCKET"]
signed_with = []


def remember_key(request, **_):
    authorization = request.headers.get("Authorization") or b""
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    signed_with.append(authorization.split("Credential=")[1].split("/")[0] if "Credential=" in authorization else "")


s3.meta.events.register("before-send.s3", remember_key)


def run(operation, arguments):
    if operation == "/put":
        s3.put_object(Bucket=bucket, Key=arguments["key"], Body=arguments["body"].encode())
        return {}
    if operation == "/get":
        return {"body": s3.get_object(Bucket=bucket, Key=arguments["key"])["Body"].read().decode()}
    if operation == "/list":
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=arguments.get("prefix", ""))
        return {"keys": [item["Key"] for item in listed.get("Contents", [])]}
    if operation == "/copy":
        s3.copy_object(Bucket=bucket, Key=arguments["key"], CopySource={"Bucket": bucket, "Key": arguments["source"]})
        return {}
    if operation == "/delete":
        deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in arguments["keys"].split(",")]})
        return {"deleted": [item["Key"] for item in deleted.get("Deleted", [])]}
    if operation == "/environment":
        return {"environment": dict(os.environ)}
    return {"ok": False, "error": "UnknownOperation"}


class Tool(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        arguments = {name: values[0] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
        before = len(signed_with)
        try:
            result = {"ok": True, **run(url.path, arguments)}
        except ClientError as error:
            result = {"ok": False, "error": error.response["Error"].get("Code"), "message": error.response["Error"].get("Message", "")}
        result["accessKeys"] = signed_with[before:]
        body = json.dumps(result).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Tool).serve_forever()
