"""Creates an S3 bucket (moto) or an Azure container (Azurite) for a test: make_container.py s3 ENDPOINT BUCKET | azure CONTAINER [BLOB_ENDPOINT]"""
import sys

kind = sys.argv[1]
if kind == "s3":
    import boto3

    endpoint, bucket = sys.argv[2], sys.argv[3]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="AKTEST", aws_secret_access_key="SKTEST", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
else:
    from azure.storage.blob import BlobServiceClient

    endpoint = sys.argv[3] if len(sys.argv) > 3 else "http://127.0.0.1:10000/devstoreaccount1"
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"BlobEndpoint={endpoint};"
    )
    BlobServiceClient.from_connection_string(conn).create_container(sys.argv[2])
