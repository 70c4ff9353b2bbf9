#!/usr/bin/env python3
"""Writes a directory tree as a reproducible cpio archive (SVR4 "newc", what the kernel unpacks as initramfs).

Usage: newc.py ROOT EPOCH > archive.cpio

Entries are sorted by path, every mtime is EPOCH, owners are root, inode numbers count up from 1 in that order and
hard links are stored as separate files: the same tree gives the same bytes on any machine, whatever the order
the file system lists it in or when the files were copied.
"""
import os
import stat
import sys


def header(out, ino, mode, nlink, mtime, size, name):
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, len(encoded), 0]
    out.write(b"070701" + b"".join(b"%08X" % value for value in fields) + encoded)
    out.write(b"\0" * (-(110 + len(encoded)) % 4))


def entries(root):
    found = []
    for directory, subdirectories, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        for name in subdirectories + files:
            found.append(os.path.normpath(os.path.join(relative, name)))
    return sorted(found)


def main():
    root, epoch = sys.argv[1], int(sys.argv[2])
    out = sys.stdout.buffer
    for ino, path in enumerate(entries(root), start=1):
        full = os.path.join(root, path)
        info = os.lstat(full)
        permissions = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            data = os.readlink(full).encode()
            header(out, ino, stat.S_IFLNK | 0o777, 1, epoch, len(data), path)
        elif stat.S_ISDIR(info.st_mode):
            data = b""
            header(out, ino, stat.S_IFDIR | permissions, 2, epoch, 0, path)
        elif stat.S_ISREG(info.st_mode):
            with open(full, "rb") as handle:
                data = handle.read()
            header(out, ino, stat.S_IFREG | permissions, 1, epoch, len(data), path)
        else:
            sys.exit(f"newc.py: {full}: only files, directories and symbolic links belong in an initramfs")
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
    header(out, 0, 0, 1, 0, 0, "TRAILER!!!")
    out.flush()


if __name__ == "__main__":
    main()
