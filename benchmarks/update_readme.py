"""Paste the latest benchmark results (benchmarks/results/NAME.md) into README.md.

Each result goes between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` markers, so the
README's performance section always shows what the last run measured.
"""

from __future__ import annotations

import re

from _common import RESULTS, ROOT


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for result in sorted(RESULTS.glob("*.md")):
        name = result.stem
        pattern = re.compile(
            rf"(<!-- bench:{name} -->\n)(?:.*?\n)?(<!-- /bench:{name} -->)", flags=re.DOTALL
        )
        if not pattern.search(text):
            print(f"README.md has no markers for {name}; skipped")
            continue
        body = result.read_text().strip()
        text = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), text)
        print(f"README.md: updated {name}")
    readme.write_text(text)


if __name__ == "__main__":
    main()
