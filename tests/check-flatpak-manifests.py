#!/usr/bin/env python3
# check-flatpak-manifests.py — the Flatpak manifests are valid JSON, sandboxed as agreed, and
# pass Dispatch only options that meson_options.txt defines, with values it accepts.
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   check-flatpak-manifests.py MESON_OPTIONS_TXT RELEASE_MANIFEST DEVEL_MANIFEST
#
# Prints TAP.

import json
import os
import re
import subprocess
import sys

APP_ID = 'io.github.dispatchmail.Dispatch'
FINISH_ARGS = {'--share=network', '--share=ipc', '--socket=wayland', '--socket=fallback-x11', '--device=dri'}
GMIME = {
    'url': 'https://github.com/jstedfast/gmime.git',
    'tag': '3.2.15',
    'commit': '76aee730fedc41dc09e1819d85bf0800bdbc0a2d',
}
DISPATCH_GIT = 'https://github.com/dispatchmail/dispatch.git'

# The few meson built-in options a manifest might reasonably set, with the values meson takes.
BUILTIN_OPTIONS = {
    'buildtype': {'type': 'combo', 'choices': ['plain', 'debug', 'debugoptimized', 'release', 'minsize', 'custom']},
    'optimization': {'type': 'combo', 'choices': ['plain', '0', 'g', '1', '2', '3', 's']},
    'debug': {'type': 'boolean'},
    'werror': {'type': 'boolean'},
    'b_lto': {'type': 'boolean'},
    'b_ndebug': {'type': 'combo', 'choices': ['true', 'false', 'if-release']},
}


def tokenize(text):
    """meson_options.txt as tokens: strings, words, numbers and punctuation; comments dropped."""
    token = re.compile(r"""
        (?P<space>\s+|\#[^\n]*)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+)
      | (?P<word>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<punct>[(),:\[\]])
    """, re.VERBOSE)
    pos = 0
    while pos < len(text):
        match = token.match(text, pos)
        if match is None:
            raise ValueError(f'meson_options.txt: cannot read {text[pos:pos + 20]!r}')
        pos = match.end()
        kind = match.lastgroup
        if kind == 'space':
            continue
        value = match.group(kind)
        if kind == 'string':
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        elif kind == 'number':
            value = int(value)
        elif kind == 'word' and value in ('true', 'false'):
            kind, value = 'bool', value == 'true'
        yield kind, value


def parse_options(path):
    """{name: {type:, choices:, min:, max:, …}} for every option() in meson_options.txt."""
    tokens = list(tokenize(open(path, encoding='utf-8').read()))
    options = {}
    i = 0

    def value_at(j):
        kind, value = tokens[j]
        if (kind, value) == ('punct', '['):
            items = []
            j += 1
            while tokens[j] != ('punct', ']'):
                if tokens[j] != ('punct', ','):
                    items.append(tokens[j][1])
                j += 1
            return items, j + 1
        return value, j + 1

    while i < len(tokens):
        if tokens[i] != ('word', 'option') or tokens[i + 1] != ('punct', '('):
            raise ValueError(f'meson_options.txt: expected option( at token {i}')
        name, i = value_at(i + 2)
        fields = {}
        while tokens[i] != ('punct', ')'):
            if tokens[i] == ('punct', ','):
                i += 1
                continue
            key = tokens[i][1]
            assert tokens[i + 1] == ('punct', ':'), f'option {name}: expected ":" after {key}'
            fields[key], i = value_at(i + 2)
        options[name] = fields
        i += 1

    return options


def check_value(option, value):
    """None when meson would take @value for @option, else why not."""
    kind = option.get('type')
    if kind == 'boolean':
        return None if value in ('true', 'false') else 'not true or false'
    if kind == 'combo':
        return None if value in option['choices'] else f'not one of {option["choices"]}'
    if kind == 'feature':
        return None if value in ('enabled', 'disabled', 'auto') else 'not enabled, disabled or auto'
    if kind == 'integer':
        if not re.fullmatch(r'-?\d+', value):
            return 'not an integer'
        if 'min' in option and int(value) < option['min']:
            return f'below {option["min"]}'
        if 'max' in option and int(value) > option['max']:
            return f'above {option["max"]}'
        return None
    if kind == 'array':
        choices = option.get('choices')
        items = [item for item in value.split(',') if item]
        bad = [item for item in items if choices is not None and item not in choices]
        return f'{bad} not in {choices}' if bad else None
    if kind == 'string':
        return None
    return f'unknown option type {kind!r}'


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = False

    def check(self, condition, description, detail=None):
        self.n += 1
        print(f'{"ok" if condition else "not ok"} {self.n} - {description}')
        if not condition:
            self.failed = True
            if detail:
                print(f'# {detail}')
        return condition


def check_manifest(tap, path, options, devel):
    name = path.rsplit('/', 1)[-1]
    try:
        manifest = json.load(open(path, encoding='utf-8'))
    except (OSError, ValueError) as error:
        tap.check(False, f'{name}: valid JSON', str(error))
        return
    tap.check(True, f'{name}: valid JSON')

    app_id = APP_ID + '.Devel' if devel else APP_ID
    tap.check(manifest.get('id') == app_id, f'{name}: id {app_id}', f'id is {manifest.get("id")!r}')
    tap.check(manifest.get('runtime') == 'org.gnome.Platform', f'{name}: GNOME runtime')
    tap.check(manifest.get('sdk') == 'org.gnome.Sdk', f'{name}: GNOME SDK')
    version = str(manifest.get('runtime-version', ''))
    tap.check(re.fullmatch(r'\d+', version) is not None, f'{name}: a stable runtime version',
              f'runtime-version is {version!r}')
    tap.check(manifest.get('command') == 'dispatch', f'{name}: command dispatch')

    finish_args = manifest.get('finish-args', [])
    tap.check(set(finish_args) == FINISH_ARGS and len(finish_args) == len(FINISH_ARGS),
              f'{name}: finish-args are exactly network, ipc, wayland, fallback-x11, dri',
              f'finish-args: {finish_args}')

    modules = manifest.get('modules', [])
    by_name = {module.get('name'): module for module in modules if isinstance(module, dict)}

    gmime = by_name.get('gmime', {})
    gmime_sources = [s for s in gmime.get('sources', []) if s.get('type') == 'git']
    tap.check(len(gmime_sources) == 1 and all(gmime_sources[0].get(k) == v for k, v in GMIME.items()),
              f'{name}: GMime {GMIME["tag"]} from git, pinned by tag and commit',
              f'gmime sources: {gmime.get("sources")}')
    tap.check(gmime.get('buildsystem', 'autotools') == 'autotools', f'{name}: GMime built with autotools')
    # Only the shared library is needed at run time; the link, headers and .pc file are not.
    cleanup = manifest.get('cleanup', []) + gmime.get('cleanup', [])
    tap.check(all(path in cleanup for path in ('/lib/*.so', '/include', '/lib/pkgconfig')),
              f'{name}: GMime\'s /lib/*.so, headers and pkg-config file cleaned up', f'cleanup: {cleanup}')

    dispatch = by_name.get('dispatch', {})
    tap.check(bool(modules) and modules[-1] is dispatch, f'{name}: dispatch is the last module')
    tap.check(dispatch.get('buildsystem') == 'meson', f'{name}: dispatch built with meson')

    given = {}
    for opt in dispatch.get('config-opts', []):
        match = re.fullmatch(r'-D([A-Za-z_][A-Za-z_0-9]*)=(.*)', opt)
        if not tap.check(match is not None, f'{name}: {opt} is -Dname=value'):
            continue
        key, value = match.groups()
        given[key] = value
        option = options.get(key) or BUILTIN_OPTIONS.get(key)
        if not tap.check(option is not None, f'{name}: -D{key} is in meson_options.txt',
                         f'meson_options.txt defines {sorted(options)}'):
            continue
        problem = check_value(option, value)
        tap.check(problem is None, f'{name}: -D{key}={value} is a valid value', problem)

    # The SDK has neither Xvfb nor a keyring for the test suite.
    tap.check(given.get('tests') == 'false', f'{name}: -Dtests=false')
    tap.check(given.get('bench') == 'false', f'{name}: -Dbench=false, no benchmark programs')

    sources = dispatch.get('sources', [])
    if devel:
        tap.check(given.get('development') == 'true', f'{name}: -Ddevelopment=true')
        tap.check(dispatch.get('run-tests') is True, f'{name}: run-tests')
        tap.check(len(sources) == 1 and sources[0].get('type') == 'dir' and sources[0].get('path') == '..',
                  f'{name}: builds the working tree', f'sources: {sources}')
        skip = sources[0].get('skip', []) if sources else []
        tap.check(all(d in skip for d in ('.git', '_build', '_build-sanitize', '_build-flatpak')),
                  f'{name}: leaves the build directories and .git out of the copy', f'skip: {skip}')
    else:
        tap.check(given.get('development', 'false') == 'false', f'{name}: not the development build')
        tap.check(len(sources) == 1 and sources[0].get('type') == 'git'
                  and sources[0].get('url') == DISPATCH_GIT and sources[0].get('tag'),
                  f'{name}: builds a tagged release from git', f'sources: {sources}')
        source = sources[0] if sources else {}
        tag, commit = source.get('tag', ''), source.get('commit', '')
        tap.check(re.fullmatch(r'[0-9a-f]{40}', commit) is not None,
                  f'{name}: the tag is pinned to a full commit', f'commit is {commit!r}')
        check_release_revision(tap, name, path, tag, commit)


def check_release_revision(tap, name, path, tag, commit):
    """In a git checkout: the pinned commit is one of ours, and an existing tag is that commit."""
    def git(*args):
        return subprocess.run(['git', '-C', os.path.dirname(os.path.abspath(path))] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        inside = git('rev-parse', '--is-inside-work-tree').stdout.strip() == 'true'
    except OSError:
        inside = False
    if not inside:
        tap.n += 1
        print(f'ok {tap.n} - {name}: the pinned commit is in this repository # SKIP not a git checkout')
        return
    tap.check(git('cat-file', '-e', commit + '^{commit}').returncode == 0,
              f'{name}: the pinned commit is in this repository', f'no commit {commit}')
    tagged = git('rev-parse', '-q', '--verify', f'refs/tags/{tag}^{{commit}}').stdout.strip()
    tap.check(tagged in ('', commit), f'{name}: tag {tag}, where it exists, is the pinned commit',
              f'{tag} is {tagged}, the manifest pins {commit}')


def main():
    options_path, release, devel = sys.argv[1:4]
    tap = Tap()
    options = parse_options(options_path)
    tap.check('development' in options and options['development'].get('type') == 'boolean',
              'meson_options.txt: read, with the development option')
    check_manifest(tap, release, options, devel=False)
    check_manifest(tap, devel, options, devel=True)
    print(f'1..{tap.n}')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
