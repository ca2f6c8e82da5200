"""Re-creates persuasion.txt from Debian's r-cran-janeaustenr package (dev time only; nothing runs this
at install, test or run time). Usage, on Debian or Ubuntu:

    apt-get download r-cran-janeaustenr && dpkg-deb -x r-cran-janeaustenr_*_all.deb pkg
    python3 data/text/extract_persuasion.py pkg/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb > persuasion.txt

The package's lazy-load database is a sequence of zlib streams (each after a 4-byte length), one per
data object; each is an R serialization (XDR) of a character vector, one element per line of the book.
Persuasion is the one whose first line is "Persuasion". The lines are written joined by newlines, as
they are, with a newline at the end.
"""

import struct
import sys
import zlib


def character_vector(blob):
    """The strings of an R XDR serialization of a character vector (STRSXP), or None for anything else."""
    if blob[:2] != b"X\n":
        return None
    pos = 2
    version = struct.unpack(">i", blob[pos : pos + 4])[0]
    pos += 12
    if version == 3:  # the native encoding's name follows
        pos += 4 + struct.unpack(">i", blob[pos : pos + 4])[0]
    flags = struct.unpack(">i", blob[pos : pos + 4])[0]
    pos += 4
    if flags & 0xFF != 16:
        return None
    n = struct.unpack(">i", blob[pos : pos + 4])[0]
    pos += 4
    out = []
    for _ in range(n):
        pos += 4  # the CHARSXP's flags
        length = struct.unpack(">i", blob[pos : pos + 4])[0]
        pos += 4
        if length == -1:  # NA
            out.append("")
            continue
        out.append(blob[pos : pos + length].decode("utf-8"))
        pos += length
    return out


def main(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        stream = zlib.decompressobj()
        blob = stream.decompress(data[pos + 4 :])
        pos = len(data) - len(stream.unused_data)
        lines = character_vector(blob)
        if lines and lines[0] == "Persuasion":
            sys.stdout.write("\n".join(lines) + "\n")
            return
    sys.exit("Persuasion not found in " + path)


if __name__ == "__main__":
    main(sys.argv[1])
