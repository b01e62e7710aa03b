#!/usr/bin/python3
# check-translations.py — every po/*.po compiles cleanly, is complete and matches today's sources.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# For each language in po/LINGUAS: `msgfmt --check --check-format` passes, there is no fuzzy or
# untranslated message, the Plural-Forms header is the language's, and every message that
# xgettext extracts from the current sources (POTFILES.in, the same keywords as meson's "glib"
# preset) is present and translated — so a new string fails here until it is translated.
# Usage: check-translations.py SOURCE_ROOT
import os
import re
import subprocess
import sys
import tempfile

PLURAL_FORMS = {
    'de': 'nplurals=2; plural=(n != 1);',
    'es': 'nplurals=2; plural=(n != 1);',
    'fr': 'nplurals=2; plural=(n > 1);',
}

# mesonbuild/modules/i18n.py, PRESET_ARGS['glib'].
XGETTEXT_GLIB_ARGS = [
    '--from-code=UTF-8',
    '--add-comments',
    '--keyword=_',
    '--keyword=N_',
    '--keyword=C_:1c,2',
    '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2',
    '--keyword=g_dngettext:2,3',
    '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format',
    '--flag=C_:2:pass-c-format',
    '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format',
    '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format',
    '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format',
    '--flag=g_set_error:4:c-format',
    '--flag=g_markup_printf_escaped:1:c-format',
    '--flag=g_log:3:c-format',
    '--flag=g_print:1:c-format',
    '--flag=g_printerr:1:c-format',
    '--flag=g_printf:1:c-format',
    '--flag=g_fprintf:2:c-format',
    '--flag=g_sprintf:2:c-format',
    '--flag=g_snprintf:3:c-format',
]


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def result(self, ok, name, details=''):
        self.count += 1
        if not ok:
            self.failed += 1
            for line in details.strip().splitlines():
                print(f'# {line}')
        print(f'{"ok" if ok else "not ok"} {self.count} - {name}')


def run(args):
    return subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, LC_ALL='C'))


def header_field(po_path, field):
    with open(po_path, encoding='utf-8') as f:
        match = re.search(r'^"%s: ([^"\\]*)(?:\\n)?"$' % re.escape(field), f.read(), re.M)
    return match.group(1).strip() if match else None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    po_dir = os.path.join(root, 'po')
    with open(os.path.join(po_dir, 'LINGUAS'), encoding='utf-8') as f:
        languages = [w for line in f for w in line.split('#', 1)[0].split()]

    tap = Tap()
    print(f'1..{1 + 4 * len(languages)}')

    with tempfile.TemporaryDirectory(prefix='dispatch-pot-') as tmp:
        pot = os.path.join(tmp, 'dispatch.pot')
        extract = run(['xgettext', '--package-name=dispatch', '-D', root,
                       '-f', os.path.join(po_dir, 'POTFILES.in'), '-o', pot] + XGETTEXT_GLIB_ARGS)
        tap.result(extract.returncode == 0 and os.path.isfile(pot),
                   'xgettext extracts a template from POTFILES.in', extract.stderr)

        for lang in languages:
            po = os.path.join(po_dir, f'{lang}.po')

            check = run(['msgfmt', '--check', '--check-format', '-o', os.devnull, po])
            tap.result(check.returncode == 0, f'{lang}.po: msgfmt --check --check-format', check.stderr)

            stats = run(['msgfmt', '--statistics', '-o', os.devnull, po])
            text = stats.stderr.strip()
            incomplete = re.search(r'\b(fuzzy|untranslated)\b', text) is not None
            tap.result(stats.returncode == 0 and 'translated message' in text and not incomplete,
                       f'{lang}.po: no fuzzy or untranslated messages ({text})', text)

            plural = header_field(po, 'Plural-Forms')
            expected = PLURAL_FORMS.get(lang)
            tap.result(expected is not None and plural == expected,
                       f'{lang}.po: Plural-Forms is "{expected}"',
                       f'found "{plural}"; add the language to PLURAL_FORMS with its CLDR rule')

            # Without --use-fuzzy/--use-untranslated, msgcmp counts a fuzzy or empty message in
            # the .po as missing.
            compare = run(['msgcmp', po, pot]) if os.path.isfile(pot) else None
            tap.result(compare is not None and compare.returncode == 0,
                       f'{lang}.po: every message of the current sources is translated',
                       (compare.stderr if compare else 'no template') +
                       '\nRun `meson compile dispatch-update-po` and translate the new messages.')

    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
