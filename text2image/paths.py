"""Where the project's shared files are: the workflow, the Lambda folders, the schema, the page.

The local stack runs these very files; nothing is copied into the package.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINE = ROOT / "statemachine" / "text2image.asl.json"
# The batch workflow: a Distributed Map whose lines run STATE_MACHINE.
BATCH_STATE_MACHINE = ROOT / "statemachine" / "text2image_batch.asl.json"
FUNCTIONS = ROOT / "functions"
REQUEST_SCHEMA = FUNCTIONS / "prepare" / "request.schema.json"
WEB = ROOT / "web"
# The endpoint inference code: what `make model-artifact` packs as code/ and the local
# endpoint server runs for --model diffusers:DIR.
ENDPOINT_CODE = ROOT / "endpoint" / "code"
