"""Claude on AWS Bedrock, and OpenAI-compatible servers."""

from .env import env

AWS_REGION: str = env("AWS_REGION", default="us-east-1")
# Regions tried in order when one fails (comma separated); the first is the primary.
BEDROCK_REGIONS: list[str] = env.list("BEDROCK_REGIONS", default=[AWS_REGION])
BEDROCK_MODEL_ID: str = env(
    "BEDROCK_MODEL_ID", default="us.anthropic.claude-sonnet-4-20250514-v1:0"
)
BEDROCK_ENDPOINT_URL: str = env("BEDROCK_ENDPOINT_URL", default="")
OPENAI_BASE_URL: str = env("OPENAI_BASE_URL", default="")
OPENAI_API_KEY: str = env("OPENAI_API_KEY", default="")
OPENAI_MODEL: str = env("OPENAI_MODEL", default="")
# Worker threads running Bedrock streams (boto3 is synchronous): one per LLM round in flight.
BEDROCK_MAX_CONCURRENT_STREAMS: int = env.int("BEDROCK_MAX_CONCURRENT_STREAMS", default=64)
