"""Uploads a file to Evalium with the real tuspy client, for the resumable-upload tests.

Without --url it creates the upload for a declared asset, sends --chunks chunks and stops, like a client
whose connection dropped; with --url it resumes that upload (asking the server where it stands) to the
end. Prints the upload's URL and its offset.
"""
import argparse

from tusclient import client

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--file", required=True)
parser.add_argument("--asset")
parser.add_argument("--chunk-size", type=int, default=64 * 1024)
parser.add_argument("--chunks", type=int, default=0)
parser.add_argument("--url")
arguments = parser.parse_args()

tus = client.TusClient(arguments.endpoint, headers={"Authorization": "Bearer " + arguments.token})
if arguments.url:
    uploader = tus.uploader(arguments.file, url=arguments.url, chunk_size=arguments.chunk_size, upload_checksum=True)
    uploader.upload()
else:
    uploader = tus.uploader(
        arguments.file, chunk_size=arguments.chunk_size, metadata={"assetId": arguments.asset}, upload_checksum=True)
    for _ in range(arguments.chunks):
        uploader.upload_chunk()
print(uploader.url)
print(uploader.offset)
