"""Write the reading contract's JSON Schema (docs/reading.schema.json), generated from the parser's constants.

    python -m tools.reports.reading_schema [--output docs/reading.schema.json]

`make schema` runs it; a test fails while the committed file differs from what this writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.json_schema.reading import SCHEMA_PATH, rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="where to write it (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.output.parent.is_dir():
        print(f"error: {args.output.parent} is not a folder", file=sys.stderr)
        return 2
    text = rendered()
    if args.output.is_file() and args.output.read_text(encoding="utf-8") == text:
        print(f"{args.output}: up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"{args.output}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
