#!/usr/bin/python3
# check-potfiles.py — po/POTFILES.in lists every file with translatable strings, and only real files.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A file left out of POTFILES.in is never extracted, so its strings stay English in every language
# without any other test noticing. Usage: check-potfiles.py SOURCE_ROOT
import os
import re
import sys

# What marks a string for translation in C (glib/gi18n.h), in GtkBuilder files, and in data files
# whose translations are merged at build time.
MARKERS = re.compile(r'(?<![A-Za-z0-9_])(?:_|N_|C_|NC_)\(|\b(?:g_d?n?gettext|ngettext|g_dpgettext2?|g_dcgettext)\s*\(|'
                     r'translatable="yes"|gettext-domain=')
ALWAYS_TRANSLATABLE = ('.desktop.in', '.metainfo.xml.in', '.appdata.xml.in')
SCANNED_DIRS = ('src', 'data')
TEXT_EXTENSIONS = ('.c', '.h', '.ui', '.xml', '.in')


def wants_translation(path):
    if path.endswith(ALWAYS_TRANSLATABLE):
        return True
    if not path.endswith(TEXT_EXTENSIONS):
        return False
    with open(path, encoding='utf-8', errors='replace') as f:
        return MARKERS.search(f.read()) is not None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    with open(os.path.join(root, 'po', 'POTFILES.in'), encoding='utf-8') as f:
        listed = [line.split('#', 1)[0].strip() for line in f]
    listed = [line for line in listed if line]

    failures = []
    for name in sorted(set(n for n in listed if listed.count(n) > 1)):
        failures.append(f'{name} is listed more than once')
    for name in listed:
        if not os.path.isfile(os.path.join(root, name)):
            failures.append(f'{name} is listed in po/POTFILES.in but does not exist')

    for top in SCANNED_DIRS:
        for directory, subdirs, files in os.walk(os.path.join(root, top)):
            subdirs.sort()
            for file in sorted(files):
                path = os.path.join(directory, file)
                name = os.path.relpath(path, root).replace(os.sep, '/')
                if name not in listed and wants_translation(path):
                    failures.append(f'{name} has translatable strings but is missing from po/POTFILES.in')

    print('1..1')
    if failures:
        for failure in failures:
            print(f'# {failure}')
        print('not ok 1 - po/POTFILES.in is complete')
        return 1
    print(f'ok 1 - po/POTFILES.in is complete ({len(listed)} files)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
