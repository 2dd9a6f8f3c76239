"""Every operation of the document is in the generated Python client.

openapi-python-client leaves out, with a warning, an operation whose schemas it cannot read:
each `operationId` must be a module `api/<tag>/<operationId>.py` with the calls
`sync_detailed` and `asyncio_detailed`.

every_operation.py OPENAPI_JSON PACKAGE_DIR
"""

import ast
import json
import sys
from pathlib import Path


def module_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def main() -> int:
    document = json.loads(Path(sys.argv[1]).read_text())
    package = Path(sys.argv[2])
    missing = []
    count = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            count += 1
            tag = operation["tags"][0].replace("-", "_")
            name = operation["operationId"]
            module = package / "api" / tag / f"{name}.py"
            if not module.exists():
                missing.append(f"{method.upper()} {path} ({name}): no {module.relative_to(package)}")
                continue
            absent = {"sync_detailed", "asyncio_detailed"} - module_functions(module)
            if absent:
                missing.append(f"{method.upper()} {path} ({name}): no {', '.join(sorted(absent))}")
    for line in missing:
        print(f"missing from the Python client: {line}", file=sys.stderr)
    if missing:
        return 1
    print(f"clients: all {count} operations are in the Python client")
    return 0


if __name__ == "__main__":
    sys.exit(main())
