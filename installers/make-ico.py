#!/usr/bin/env python3
"""Writes a Windows .ico holding assets/icon.png as its one 256x256 image
(PNG inside ICO, read by Windows since Vista): the MSI's shortcut, file-type
and Add/Remove Programs icon. Standard library only, like make-icon.py.

    python3 installers/make-ico.py assets/icon.png out.ico
"""

import struct
import sys


def main(src, dst):
    png = open(src, "rb").read()
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        sys.exit(f"make-ico: {src} is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    if width > 256 or height > 256:
        sys.exit(f"make-ico: {src} is {width}x{height}; an ICO image is at most 256x256")
    # ICONDIR, then one ICONDIRENTRY (0 means 256), then the PNG itself.
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", width % 256, height % 256, 0, 0, 1, 32, len(png), 6 + 16)
    with open(dst, "wb") as f:
        f.write(header + entry + png)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
