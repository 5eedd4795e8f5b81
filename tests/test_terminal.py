"""ttrec.terminal.InPlace: a redraw moves up over exactly the lines drawn before and clears
them; text written after an erase stays above the block."""

from __future__ import annotations

import io

from ttrec.terminal import InPlace

UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # CPL n (cursor to the start of the line n up), ED 0


def test_a_redraw_replaces_exactly_the_previous_block() -> None:
    out = io.StringIO()
    block = InPlace(out)
    block.draw(["a", "b", "c"])
    block.draw(["d"])
    block.erase()
    out.write("event\n")
    block.erase()  # nothing drawn since: nothing to erase
    block.draw(["e", "f"])
    assert out.getvalue() == (
        "a\nb\nc\n" + UP_AND_CLEAR.format(n=3) + "d\n" + UP_AND_CLEAR.format(n=1) + "event\ne\nf\n"
    )
