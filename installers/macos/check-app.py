#!/usr/bin/env python3
"""Checks a Postern.app made by assemble-app.sh: the layout, that Info.plist
parses and has no unfilled @PLACEHOLDER@, that it declares the .postern
document type (exported UTI with the extension, a document type naming that
UTI), and that the icon is an icns. With --binaries, also that
Contents/MacOS holds the Mach-O programs.

    python3 installers/macos/check-app.py OUT_DIR/Postern.app [--binaries]
"""

import os
import plistlib
import re
import struct
import sys

MACHO = {b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"}  # 64-bit, universal


def fail(msg):
    sys.exit(f"check-app: {msg}")


def main(app, binaries):
    contents = os.path.join(app, "Contents")
    for d in ("MacOS", "Resources"):
        if not os.path.isdir(os.path.join(contents, d)):
            fail(f"missing Contents/{d}/")
    raw = open(os.path.join(contents, "Info.plist"), "rb").read()
    if re.search(rb"@[A-Z_]+@", raw):
        fail("Info.plist still holds a @PLACEHOLDER@")
    info = plistlib.loads(raw)
    if info.get("CFBundlePackageType") != "APPL":
        fail("CFBundlePackageType is not APPL")
    if open(os.path.join(contents, "PkgInfo"), "rb").read()[:4] != b"APPL":
        fail("PkgInfo does not start with APPL")
    if not re.fullmatch(r"\d+\.\d+\.\d+", info.get("CFBundleShortVersionString", "")):
        fail("CFBundleShortVersionString is not a version")
    exe = info.get("CFBundleExecutable")
    if exe != "postern-desktop":
        fail(f"CFBundleExecutable is {exe!r}, expected postern-desktop")

    icon = os.path.join(contents, "Resources", info["CFBundleIconFile"])
    data = open(icon, "rb").read()
    if data[:4] != b"icns" or struct.unpack(">I", data[4:8])[0] != len(data):
        fail(f"{icon} is not an icns file")

    utis = {}
    for t in info.get("UTExportedTypeDeclarations", []):
        tags = t.get("UTTypeTagSpecification", {})
        utis[t["UTTypeIdentifier"]] = tags.get("public.filename-extension", [])
    postern_utis = {u for u, exts in utis.items() if "postern" in exts}
    if not postern_utis:
        fail("no exported UTI has the filename extension postern")
    doc = [
        d
        for d in info.get("CFBundleDocumentTypes", [])
        if postern_utis & set(d.get("LSItemContentTypes", []))
    ]
    if not doc:
        fail("no CFBundleDocumentTypes entry names the .postern UTI")
    if doc[0].get("CFBundleTypeRole") not in ("Viewer", "Editor"):
        fail("the .postern document type has no Viewer/Editor role")

    programs = [os.path.join(contents, "MacOS", p) for p in ("postern-desktop", "postern")]
    if binaries:
        for p in programs:
            if not os.access(p, os.X_OK) or open(p, "rb").read(4) not in MACHO:
                fail(f"{p} is not an executable Mach-O program")
    elif os.listdir(os.path.join(contents, "MacOS")):
        fail("Contents/MacOS is not empty, but no binaries were expected")
    print(f"check-app: {app}: layout, Info.plist ({', '.join(sorted(postern_utis))} for .postern) and icon ok")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--binaries"]
    if len(args) != 1:
        sys.exit(__doc__)
    main(args[0], "--binaries" in sys.argv[1:])
