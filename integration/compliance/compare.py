"""Compare two compliance-suite runs: how many of the tests the stock dialect
passes does ``auroradsql`` pass too?

    python -m pytest integration/compliance --stock-postgresql --junitxml=stock.xml
    python -m pytest integration/compliance --junitxml=ours.xml
    python integration/compliance/compare.py stock.xml ours.xml

Test ids are matched without the ``_<dialect>+<driver>_<version>`` suffix
SQLAlchemy's plugin puts on class names.  Prints both runs' counts, the share
of stock-passed tests that pass here, and the ones that do not.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter

_SUFFIX = re.compile(r"_[a-z0-9]+\+[a-z0-9_]+_[0-9_]+$")


def outcomes(path: str) -> dict[str, str]:
    """Test id -> passed / failed / error / skipped, from a JUnit XML file."""
    found: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = _SUFFIX.sub("", case.get("classname", "")) + "::" + case.get("name", "")
        tags = {child.tag for child in case}
        outcome = next((t for t in ("failure", "error", "skipped") if t in tags), "passed")
        if found.get(name, "passed") == "passed":  # an error at teardown wins
            found[name] = {"failure": "failed"}.get(outcome, outcome)
    return found


def main(stock_xml: str, ours_xml: str) -> int:
    stock, ours = outcomes(stock_xml), outcomes(ours_xml)
    print("stock:", dict(Counter(stock.values())))
    print("ours: ", dict(Counter(ours.values())))
    stock_passed = [name for name, outcome in stock.items() if outcome == "passed"]
    missing = [name for name in stock_passed if ours.get(name) != "passed"]
    share = 100.0 * (len(stock_passed) - len(missing)) / max(len(stock_passed), 1)
    print(
        f"of {len(stock_passed)} tests stock passes, {len(stock_passed) - len(missing)} pass here ({share:.2f}%)"
    )
    for name in missing:
        print(f"  {ours.get(name, 'not run')}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
