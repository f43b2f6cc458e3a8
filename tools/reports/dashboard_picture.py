"""A picture of the dashboard page a local run wrote, for docs/, taken by headless Chromium.

    python -m tools.reports.dashboard_picture [--page reports/dashboard.html] [--output docs/dashboard.png]

Exits 2 when the page is missing or the browser is not installed (``make browser``), 1 when Chromium fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.common.arguments import positive_int
from tools.common.chromium import ChromiumError, missing_reason, screenshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reports.dashboard_picture",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--page", type=Path, default=Path("reports/dashboard.html"), help="the page to picture")
    parser.add_argument("--output", type=Path, default=Path("docs/dashboard.png"), help="where the PNG goes")
    parser.add_argument("--width", type=positive_int, default=1600, help="pixels (default 1600)")
    parser.add_argument("--height", type=positive_int, default=3300, help="pixels (default 3300)")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        parser.error(f"--page {args.page} does not exist: make local writes it")
    missing = missing_reason()
    if missing:
        parser.error(missing)
    try:
        screenshot(args.page, args.output, width=args.width, height=args.height)
    except ChromiumError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"dashboard picture: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
