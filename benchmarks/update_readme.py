"""Paste the latest benchmark results (benchmarks/results/NAME.md) into the documentation.

Each result goes between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` markers, in
README.md or any page under docs/ (the performance and accuracy pages hold most of them), so
the published figures always show what the last run measured.
"""

from __future__ import annotations

import re

from _common import RESULTS, ROOT


def main() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    texts = {page: page.read_text() for page in pages}
    for result in sorted(RESULTS.glob("*.md")):
        name = result.stem
        pattern = re.compile(
            rf"(<!-- bench:{name} -->\n)(?:.*?\n)?(<!-- /bench:{name} -->)", flags=re.DOTALL
        )
        body = result.read_text().strip()
        found = [page for page, text in texts.items() if pattern.search(text)]
        if not found:
            print(f"no page has markers for {name}; skipped")
            continue
        for page in found:
            texts[page] = pattern.sub(
                lambda m, b=body: m.group(1) + b + "\n" + m.group(2), texts[page]
            )
            print(f"{page.relative_to(ROOT)}: updated {name}")
    for page, text in texts.items():
        if page.read_text() != text:
            page.write_text(text)


if __name__ == "__main__":
    main()
