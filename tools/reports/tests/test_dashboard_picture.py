"""The dashboard's picture: refused without a page or a browser, taken by Chromium where it is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.common import chromium
from tools.reports import dashboard_picture


def test_a_missing_page_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        dashboard_picture.main(["--page", str(tmp_path / "none.html"), "--output", str(tmp_path / "d.png")])
    assert exit_info.value.code == 2
    assert "none.html does not exist: make local writes it" in capsys.readouterr().err


def test_without_the_browser_it_exits_2_saying_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html></html>")
    monkeypatch.setattr(dashboard_picture, "missing_reason", lambda: chromium.missing_reason(tmp_path / "no-chromium"))
    with pytest.raises(SystemExit) as exit_info:
        dashboard_picture.main(["--page", str(page), "--output", str(tmp_path / "d.png")])
    assert exit_info.value.code == 2
    assert "no-chromium is not installed (make browser installs Debian's chromium)" in capsys.readouterr().err


@pytest.mark.e2e  # a real browser: seconds to start, more on a busy machine
@pytest.mark.timeout(chromium.TIMEOUT_SECONDS + 30)
def test_the_picture_is_a_png_of_the_page(tmp_path: Path) -> None:
    missing = chromium.missing_reason()
    if missing:
        pytest.skip(f"no headless browser: {missing}")
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1>dashboard</h1></body></html>")
    output = tmp_path / "pictures" / "d.png"
    assert (
        dashboard_picture.main(["--page", str(page), "--output", str(output), "--width", "300", "--height", "200"]) == 0
    )
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_browser_that_fails_is_an_error_with_its_output(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(chromium.ChromiumError, match="chromium exited with 3: broken"):
        chromium.rendered_dom(tmp_path / "page.html", executable=broken)
