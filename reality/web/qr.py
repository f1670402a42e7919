"""The QR code on the audience screen, drawn as SVG.

Apart from the phone address it encodes (:mod:`reality.public_url`): qrcode and the imaging code it
loads take 20 ms to import, which the show's entry script, checking ``--public-url``, does not pay
before its containers start.
"""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    """A QR code for ``data`` as a standalone SVG document (dark modules on white, with a quiet zone)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10, border=4,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    return image.to_string(encoding="unicode")
