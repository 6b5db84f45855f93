"""Rewrite the README's settings table from `sightline.config.SETTINGS` (tests/test_config.py checks they agree).

python scripts/settings_table.py          # rewrites README.md in place
"""

from __future__ import annotations

import re
from pathlib import Path

from sightline.config import settings_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
TABLE = re.compile(r"(<!-- settings table: .*? -->\n).*?(<!-- end of settings table -->)", re.DOTALL)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    updated, found = TABLE.subn(lambda m: m.group(1) + settings_markdown() + m.group(2), text)
    if not found:
        raise SystemExit("README.md has no settings table markers")
    README.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
