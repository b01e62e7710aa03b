#!/usr/bin/python3
# test-ui.py — drive the installed `dispatch` with real X input, the way a person uses it, and check what a real SMTP server got.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by run-ui-session.sh, inside a private D-Bus session with an unlocked gnome-keyring:
#
#   test-ui.py --dispatch BIN --schema-dir DIR [--output-dir DIR] [SCENARIO…]
#
# Nothing here reaches into the process. The app runs out of process on an Xvfb display of its
# own with no window manager and GTK's default settings (the text cursor blinks). It is driven
# only by xdotool — pointer moves, clicks, typed text, key chords — at positions read from the
# accessibility tree GTK exports over AT-SPI (accessible names come from the .ui files). The
# mail goes to aiosmtpd, a server none of us wrote, run in this process on 127.0.0.1. After
# every step the app must still be running. Each scenario is one TAP test; a screenshot of the
# screen at its end goes to --output-dir.
#
# Every wait polls a condition with a deadline; nothing waits a fixed time for something that
# can be observed. The deadlines are generous: the test machines are slow and shared.

import argparse
import asyncio
import email
import email.policy
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import gi

gi.require_version('Atspi', '2.0')
from gi.repository import Atspi, GLib  # noqa: E402

from aiosmtpd.controller import UnthreadedController  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(os.path.dirname(HERE), 'files')

# Seconds for anything the app must do (start, send, show a window); three times that for a
# build with AddressSanitizer, which starts GTK several times slower.
WAIT = 90 * (3 if 'ASAN_OPTIONS' in os.environ else 1)
POLL = 0.2
SCREEN = (1280, 1024)

USER = 'alice'
PASSWORD = 'Ui-test-password-3e9b'  # ASCII: xdotool types other characters by remapping keys
TO = 'bob@example.com'
SCHEMA_PATH = 'io/github/dispatchmail/Dispatch'


class Failure(Exception):
    pass


def note(text):
    for line in str(text).splitlines():
        print('# ' + line, flush=True)


def wait_for(what, condition, timeout=WAIT, alive=None):
    """Polls condition() until it returns something true; returns that. alive() is checked too."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        if alive is not None:
            alive()
        try:
            value = condition()
            if value:
                return value
        except Failure:
            raise
        except Exception as e:  # the a11y tree changes under our feet; try again
            last_error = e
        if time.monotonic() > deadline:
            raise Failure('timed out after %d s waiting for %s%s' % (
                timeout, what, ' (last error: %s)' % last_error if last_error else ''))
        time.sleep(POLL)


# ---- The SMTP server ---------------------------------------------------------------------------

class Handler:
    """Stores what arrives; can refuse the message (554) or hold the final reply to the data."""

    def __init__(self):
        self.messages = []
        self.mode = 'accept'
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.mode == 'refuse':
            return '554 5.7.1 Message refused by the UI test server'
        if self.mode == 'stall':
            # The client has sent everything and waits for the reply that commits the message.
            self.stalled.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, WAIT * 2)
            return '451 4.3.0 Held by the UI test server, not taken'
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=('plain',))
        with self._lock:
            self.messages.append({
                'subject': str(parsed['Subject']),
                'to': str(parsed['To']),
                'rcpt_tos': list(envelope.rcpt_tos),
                'text': body.get_content() if body is not None else '',
                'auth_user': (session.auth_data.decode('utf-8', 'replace')
                              if isinstance(session.auth_data, bytes) else None),
                'tls': server.transport.get_extra_info('ssl_object') is not None,
            })
        return '250 2.0.0 OK: stored'

    def received(self):
        with self._lock:
            return list(self.messages)


class Authenticator:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


class SmtpServer:
    """aiosmtpd on 127.0.0.1, a free port, its own event loop in a thread of this process."""

    def __init__(self, starttls_auth=False):
        self.handler = Handler()
        kwargs = {'auth_require_tls': False}
        if starttls_auth:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(os.path.join(FILES, 'server.pem'), os.path.join(FILES, 'server-key.pem'))
            kwargs = {'tls_context': tls, 'require_starttls': True, 'authenticator': Authenticator(),
                      'auth_required': True, 'auth_require_tls': True}
        self._loop = asyncio.new_event_loop()
        self._controller = UnthreadedController(self.handler, hostname='127.0.0.1', port=0,
                                                loop=self._loop, server_hostname='localhost', **kwargs)
        self._controller.begin()
        self.port = self._controller.server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self.handler.release.set()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._controller.end()


# ---- The display and the input ------------------------------------------------------------------

class Display:
    def __init__(self):
        read_end, write_end = os.pipe()
        self.xvfb = subprocess.Popen(
            ['Xvfb', '-displayfd', str(write_end), '-screen', '0', '%dx%dx24' % SCREEN,
             '-nolisten', 'tcp', '-noreset'],
            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        number = b''
        with os.fdopen(read_end, 'rb') as r:
            while not number.endswith(b'\n'):
                chunk = r.read(1)
                if not chunk:
                    raise Failure('Xvfb did not start')
                number += chunk
        self.name = ':' + number.decode().strip()
        os.environ['DISPLAY'] = self.name

    def xdotool(self, *args):
        result = subprocess.run(['xdotool'] + [str(a) for a in args], capture_output=True,
                                text=True, timeout=60)
        if result.returncode != 0:
            raise Failure('xdotool %s: %s' % (' '.join(map(str, args)), result.stderr.strip()))
        return result.stdout

    def move(self, x, y):
        """Moves the pointer onto (x, y), always with some motion, as a hand does: GTK learns
        that the pointer is over a window that appeared under it, or over a button enabled
        again under it, only from a motion event. (`mousemove --sync` to where the pointer
        already is would also wait for a motion that never comes.)"""
        where = dict(item.split(':') for item in self.xdotool('getmouselocation').split()[:2])
        if (int(where['x']), int(where['y'])) == (int(x), int(y)):
            self.xdotool('mousemove', '--sync', int(x) + 3, int(y) + 1)
        self.xdotool('mousemove', '--sync', int(x), int(y))

    def click(self, x, y):
        self.move(x, y)
        self.xdotool('click', '1')

    def type(self, text):
        self.xdotool('type', '--delay', '40', text)

    def key(self, *chords):
        self.xdotool('key', '--delay', '60', *chords)

    def screenshot(self, path):
        subprocess.run(['import', '-window', 'root', path], timeout=60, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self):
        self.xvfb.terminate()
        try:
            self.xvfb.wait(30)
        except subprocess.TimeoutExpired:
            self.xvfb.kill()
            self.xvfb.wait()


# ---- The accessibility tree --------------------------------------------------------------------

def state(acc, s):
    return acc.get_state_set().contains(s)


def walk(acc, depth=0):
    yield acc, depth
    for i in range(acc.get_child_count()):
        child = acc.get_child_at_index(i)
        if child is not None:
            yield from walk(child, depth + 1)


def extents(acc):
    """Position and size relative to the window; nothing for nodes that are not drawn (GTK 4.8
    gives some of its internal nodes, such as a window title's, no Component interface)."""
    if acc.get_component_iface() is None:
        return 0, 0, 0, 0
    e = acc.get_extents(Atspi.CoordType.WINDOW)
    return e.x, e.y, e.width, e.height


def clean_name(name):
    """GTK 4.8 names a button with a mnemonic label "_Send Send": the markup, then the text."""
    words = (name or '').split(' ')
    half = len(words) // 2
    if len(words) % 2 == 0 and '_' in words[0] and [w.replace('_', '') for w in words[:half]] == words[half:]:
        return ' '.join(words[half:])
    return name or ''


def text_of(acc):
    iface = acc.get_text_iface()
    if iface is None:
        return None
    return Atspi.Text.get_text(iface, 0, Atspi.Text.get_character_count(iface))


class App:
    """One `dispatch` process, seen through AT-SPI and X."""

    def __init__(self, test, args, name):
        self.test = test
        self.display = test.display
        self.log_path = os.path.join(test.work, name + '.log')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen([test.dispatch] + args, env=test.app_env(),
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.root = None

    def wait_started(self):
        self.root = wait_for('the app on the accessibility bus', self._find_root, alive=self.alive)

    def _find_root(self):
        desktop = Atspi.get_desktop(0)
        for i in range(desktop.get_child_count()):
            app = desktop.get_child_at_index(i)
            if app is not None and app.get_process_id() == self.proc.pid:
                app.set_cache_mask(Atspi.Cache.NONE)
                return app
        return None

    def log(self):
        self._log.flush()
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def alive(self):
        code = self.proc.poll()
        if code is not None:
            how = ('killed by signal %d (%s)' % (-code, signal.Signals(-code).name)
                   if code < 0 else 'exited with status %d' % code)
            raise Failure('dispatch is gone: %s\n%s' % (how, self.log()[-3000:]))

    def frames(self):
        """Toplevels that are on screen, newest last."""
        result = []
        for i in range(self.root.get_child_count()):
            try:
                w = self.root.get_child_at_index(i)
                # Only the first window and the active one are SHOWING in GTK 4.8; every mapped
                # one is VISIBLE with a size.
                if (w is not None and state(w, Atspi.StateType.VISIBLE)
                        and not state(w, Atspi.StateType.DEFUNCT) and extents(w)[2] > 0):
                    w.get_name()
                    result.append(w)
            except GLib.Error:  # a window closing while we look
                pass
        return result

    def window_origin(self, frame):
        """Where a toplevel's content starts on the screen, and its X window.

        GTK 4 reports positions relative to the window's content, which sits inside the X
        window by the width of the resize border GTK draws around it (no window manager
        draws one here). GTK sets no _NET_WM_PID, so the X window is found by its class and
        by the size it has around the content."""
        _, _, width, height = extents(frame)
        out = self.display.xdotool('search', '--onlyvisible', '--class', '^dispatch$')
        for wid in out.split():
            geometry = dict(line.split('=', 1) for line in
                            self.display.xdotool('getwindowgeometry', '--shell', wid).split())
            border_x = int(geometry['WIDTH']) - width
            border_y = int(geometry['HEIGHT']) - height
            if border_x == border_y and 0 <= border_x <= 200 and border_x % 2 == 0:
                return (int(geometry['X']) + border_x // 2, int(geometry['Y']) + border_y // 2, wid)
        raise Failure('no X window around %dx%d for %r' % (width, height, frame.get_name()))

    def find(self, role, name=None, within=None, contains=None, prefix=None):
        """The first node of this role whose name is name (or contains contains), on screen."""
        for top in ([within] if within is not None else self.frames()):
            for acc, _ in walk(top):
                if acc.get_role_name() != role:
                    continue
                n = clean_name(acc.get_name())
                if name is not None and n != name:
                    continue
                if contains is not None and contains not in n:
                    continue
                if prefix is not None and not n.startswith(prefix):
                    continue
                # GTK 4.8 sets VISIBLE but not SHOWING below the toplevel; a hidden part of the
                # window (an unrevealed revealer, a folded pane) has no size.
                if not state(acc, Atspi.StateType.VISIBLE):
                    continue
                _, _, w, h = extents(acc)
                if w <= 0 or h <= 0:
                    continue
                return acc
        return None

    def wait_find(self, what, role, **kw):
        return wait_for(what, lambda: self.find(role, **kw), alive=self.alive)

    def frame_of(self, acc):
        node = acc
        while node is not None:
            parent = node.get_parent()
            if parent is not None and parent.get_role() == Atspi.Role.APPLICATION:
                return node
            node = parent
        raise Failure('%r is in no window' % acc.get_name())

    def reveal(self, acc):
        """Scrolls acc into view with the mouse wheel, as a person would, if a scrolled pane
        around it has moved it out of sight (GTK still reports where it would be)."""
        pane = acc.get_parent()
        while pane is not None and pane.get_role_name() != 'scroll pane':
            pane = pane.get_parent()
        if pane is None:
            return
        ox, oy, _ = self.window_origin(self.frame_of(acc))
        for _ in range(60):
            _, y, _, h = extents(acc)
            px, py, pw, ph = extents(pane)
            if y >= py and y + h <= py + ph:
                return
            # Button 4 scrolls up, 5 down.
            self.display.move(ox + px + pw // 2, oy + py + ph // 2)
            self.display.xdotool('click', '4' if y < py else '5')
            self.alive()
        raise Failure('could not scroll %r into view' % acc.get_name())

    def click(self, acc, at=0.5):
        """Clicks at the middle of acc's height, at this fraction of its width."""
        self.reveal(acc)
        x, y, w, h = extents(acc)
        ox, oy, _ = self.window_origin(self.frame_of(acc))
        self.display.click(ox + x + int(w * at), oy + y + h // 2)

    def sensitive(self, acc):
        return state(acc, Atspi.StateType.SENSITIVE)

    def labels(self, within=None):
        return [acc.get_name() or '' for top in ([within] if within else self.frames())
                for acc, _ in walk(top)
                if acc.get_role_name() == 'label' and state(acc, Atspi.StateType.VISIBLE)
                and extents(acc)[2] > 0]

    def dump(self):
        lines = []
        for top in self.frames():
            for acc, depth in walk(top):
                try:
                    lines.append('%s%s %r %s' % ('  ' * depth, acc.get_role_name(), acc.get_name(),
                                                 extents(acc)))
                except Exception as e:
                    lines.append('%s? %s' % ('  ' * depth, e))
        return '\n'.join(lines)

    def quit(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---- What the tests do with the window ---------------------------------------------------------

class ComposeWindow:
    def __init__(self, app, frame=None):
        self.app = app
        self.frame = frame

    def top(self):
        if self.frame is None:
            self.frame = wait_for('the compose window', lambda: self.app.find('push button', name='Send')
                                  and self.app.frame_of(self.app.find('push button', name='Send')),
                                  alive=self.app.alive)
        return self.frame

    def send_button(self):
        return self.app.find('push button', name='Send', within=self.top())

    def body(self):
        return self.app.find('text', name='Message text', within=self.top())

    def entry(self, title):
        return self.app.find('text', name=title, within=self.top())

    def wait_ready(self):
        """Send is enabled again: the last send is over, whatever its outcome."""
        return wait_for('the Send button to be enabled',
                        lambda: (b := self.send_button()) is not None and self.app.sensitive(b) and b,
                        alive=self.app.alive)

    def click_send(self):
        self.app.click(self.wait_ready())


class Test:
    def __init__(self, args):
        self.dispatch = args.dispatch
        self.schema_dir = args.schema_dir
        self.output_dir = args.output_dir
        self.work = tempfile.mkdtemp(prefix='dispatch-ui-driver-')
        self.display = Display()
        self.servers = []
        self.apps = []
        self.config = os.path.join(os.environ['XDG_CONFIG_HOME'], 'glib-2.0', 'settings', 'keyfile')

    def app_env(self):
        env = dict(os.environ)
        env['DISPLAY'] = self.display.name
        env['GSETTINGS_SCHEMA_DIR'] = self.schema_dir
        # Flatpak's backend too: a file, so the test can set the account up before the start.
        env['GSETTINGS_BACKEND'] = 'keyfile'
        env['LC_ALL'] = 'C.UTF-8'
        for name in ('GTK_A11Y', 'NO_AT_BRIDGE', 'GDK_BACKEND', 'G_DEBUG', 'GTK_DEBUG'):
            env.pop(name, None)
        if 'ASAN_OPTIONS' in env:
            # Under AddressSanitizer memory errors still abort the app, but leaks are left to the
            # in-process tests: the app here ends by SIGTERM, and only the short-lived second
            # instance (`dispatch mailto:`) would be checked, at a price of minutes of slow
            # unwinding for every allocation GTK makes.
            env['ASAN_OPTIONS'] += ':detect_leaks=0:fast_unwind_on_malloc=1'
        return env

    def server(self, **kw):
        s = SmtpServer(**kw)
        self.servers.append(s)
        return s

    def settings(self, **values):
        """The account and window state, as the keyfile settings backend reads them."""
        os.makedirs(os.path.dirname(self.config), exist_ok=True)
        lines = ['[%s]' % SCHEMA_PATH]
        for key, value in values.items():
            if isinstance(value, bool):
                text = 'true' if value else 'false'
            elif isinstance(value, int):
                text = ('uint32 %d' if key == 'port' or key == 'timeout' else '%d') % value
            else:
                text = "'%s'" % value.replace('\\', '\\\\').replace("'", "\\'")
            lines.append('%s=%s' % (key.replace('_', '-'), text))
        with open(self.config, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        # No draft from an earlier scenario: each starts with an empty window.
        shutil.rmtree(os.path.join(os.environ['XDG_DATA_HOME'], 'dispatch'), ignore_errors=True)

    def launch(self, *args, name='dispatch'):
        app = App(self, list(args), name)
        # Listed first, so that it is stopped even when it never shows up.
        self.apps.append(app)
        app.wait_started()
        return app

    def screenshot(self, name):
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
            path = os.path.join(self.output_dir, name + '.png')
            self.display.screenshot(path)
            note('screenshot: ' + path)

    def finish_scenario(self):
        for app in self.apps:
            app.quit()
        self.apps = []
        for s in self.servers:
            s.stop()
        self.servers = []

    def close(self):
        self.finish_scenario()
        self.display.close()
        shutil.rmtree(self.work, ignore_errors=True)


def local_account(server, **more):
    values = dict(provider='custom', host='127.0.0.1', port=server.port, security='none',
                  sender_address='ui-test@example.com', sender_name='UI Test')
    values.update(more)
    return values


def wait_received(app, server, count, what='the message'):
    return wait_for('%s to arrive (%d in all)' % (what, count),
                    lambda: len(server.handler.received()) >= count and server.handler.received(),
                    alive=app.alive)


# ---- The scenarios ----------------------------------------------------------------------------

def scenario_send_five_times(t):
    """Send, then Send again, five times in a row: every message arrives."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'Five in a row')
    window = ComposeWindow(app)
    for n in range(1, 6):
        started = time.monotonic()
        window.click_send()
        wait_received(app, server, n, 'message %d' % n)
        window.wait_ready()
        app.alive()
        note('send %d: %.1f s from the click to Send enabled again' % (n, time.monotonic() - started))
    got = server.handler.received()
    if len(got) != 5 or any(m['subject'] != 'Five in a row' for m in got):
        raise Failure('the server got %r' % got)
    note('5 of 5 sends arrived')


def scenario_type_body_then_send(t):
    """Click into the text, type, click Send while the cursor blinks there; then Send again."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'Typed by hand')
    window = ComposeWindow(app)
    body = wait_for('the message text', window.body, alive=app.alive)
    app.click(body)
    wait_for('the message text to take the focus', lambda: state(window.body(), Atspi.StateType.FOCUSED),
             alive=app.alive)
    t.display.type('Hello from a real keyboard.')
    wait_for('the typed text in the view',
             lambda: 'Hello from a real keyboard.' in (text_of(window.body()) or ''), alive=app.alive)
    for n in (1, 2):
        window.click_send()
        got = wait_received(app, server, n, 'send %d' % n)
        window.wait_ready()
        # Back in the text, the cursor blinking again, for the next round.
        app.click(window.body())
        app.alive()
        if 'Hello from a real keyboard.' not in got[-1]['text']:
            raise Failure('the server got the text %r' % got[-1]['text'])
    note('the typed text arrived twice')


def scenario_cancel_then_send(t):
    """Cancel while the server holds its reply, then send again."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'Cancelled, then sent')
    window = ComposeWindow(app)
    server.handler.mode = 'stall'
    window.click_send()
    wait_for('the server to hold the message', server.handler.stalled.is_set, alive=app.alive)
    cancel = app.wait_find('the Cancel button', 'push button', contains='Cancel')
    t.screenshot('cancel-while-sending')
    app.click(cancel)
    window.wait_ready()
    wait_for('"Cancelled" on screen', lambda: 'Cancelled' in app.labels(), alive=app.alive)
    server.handler.mode = 'accept'
    server.handler.release.set()
    window.click_send()
    got = wait_received(app, server, 1)
    window.wait_ready()
    app.alive()
    if len(got) != 1 or got[0]['subject'] != 'Cancelled, then sent':
        raise Failure('the server got %r' % got)


def scenario_refused_then_send(t):
    """A 554 for the message shows the server's reply; the same form then goes out."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'Refused, then sent')
    window = ComposeWindow(app)
    server.handler.mode = 'refuse'
    window.click_send()
    wait_for('the refusal on screen', lambda: any('554' in label for label in app.labels()),
             alive=app.alive)
    window.wait_ready()
    t.screenshot('refused')
    server.handler.mode = 'accept'
    window.click_send()
    got = wait_received(app, server, 1)
    window.wait_ready()
    app.alive()
    if len(got) != 1 or got[0]['subject'] != 'Refused, then sent':
        raise Failure('the server got %r' % got)


def open_account_dialog(app, window):
    app.click(app.wait_find('the Edit Account button', 'push button', prefix='Edit Account',
                            within=window.top()))
    return wait_for('the account dialog',
                    lambda: next((f for f in app.frames() if f.get_name() == 'Account'), None),
                    alive=app.alive)


def close_dialog(app, dialog):
    title = dialog.get_name()
    app.click(app.wait_find('the Close button of the dialog', 'push button', name='Close', within=dialog))
    wait_for('the dialog to close', lambda: all(f.get_name() != title for f in app.frames()),
             alive=app.alive)


def spin_value(acc):
    return Atspi.Value.get_current_value(acc.get_value_iface())


def scenario_port_edited_keeps_password(t):
    """STARTTLS + AUTH: the password typed in the account dialog still signs in after the port changes."""
    first = t.server(starttls_auth=True)
    second = t.server(starttls_auth=True)
    t.settings(**local_account(first, security='starttls', user=USER,
                               ca_file=os.path.join(FILES, 'ca.pem')))
    app = t.launch('--to', TO, '--subject', 'Through STARTTLS')
    window = ComposeWindow(app)
    window.top()

    dialog = open_account_dialog(app, window)
    password = app.wait_find('the Password field', 'text', name='Password', within=dialog)
    # X delivers the typing after the click, in order: no need to wait for the focus (which
    # GTK 4.8 reports on the row's inner entry, a node it does not export).
    app.click(password)
    t.display.type(PASSWORD)
    close_dialog(app, dialog)

    window.click_send()
    got = wait_received(app, first, 1, 'the message through STARTTLS + AUTH')
    window.wait_ready()
    if got[0]['auth_user'] != USER or not got[0]['tls']:
        raise Failure('the first server got %r' % got)
    t.screenshot('proof-starttls-auth')

    dialog = open_account_dialog(app, window)
    port = app.wait_find('the Port field', 'spin button', name='Port', within=dialog)
    # Into the number, left of the spin button's - and + buttons.
    app.click(port, at=0.2)
    t.display.key('ctrl+a')
    t.display.type(str(second.port))
    t.display.key('Tab')
    wait_for('the new port in the field',
             lambda: spin_value(app.find('spin button', name='Port', within=dialog)) == second.port,
             alive=app.alive)
    close_dialog(app, dialog)

    window.click_send()
    got = wait_received(app, second, 1, 'the message on the new port')
    window.wait_ready()
    app.alive()
    if got[0]['auth_user'] != USER or not got[0]['tls']:
        raise Failure('the second server got %r' % got)


def scenario_mailto_keeps_draft(t):
    """`dispatch mailto:` while a draft is open: a second window, the draft untouched."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'My draft')
    window = ComposeWindow(app)
    app.click(wait_for('the message text', window.body, alive=app.alive))
    t.display.type('Half-written words.')
    wait_for('the typed text', lambda: 'Half-written words.' in (text_of(window.body()) or ''),
             alive=app.alive)

    second = subprocess.run([t.dispatch, 'mailto:carol@example.org?subject=From%20a%20link'],
                            env=t.app_env(), capture_output=True, text=True, timeout=WAIT)
    if second.returncode != 0:
        raise Failure('dispatch mailto: exited with %d: %s' % (second.returncode, second.stderr))
    app.alive()

    def new_window():
        for frame in app.frames():
            if frame != window.top() and app.find('push button', name='Send', within=frame):
                return frame
        return None

    other = ComposeWindow(app, wait_for('a second compose window', new_window, alive=app.alive))
    t.screenshot('mailto-second-window')
    body = text_of(window.body()) or ''
    to = text_of(window.entry('To')) or ''
    subject = text_of(window.entry('Subject')) or ''
    if 'Half-written words.' not in body or to != TO or subject != 'My draft':
        raise Failure('the draft changed: To %r, Subject %r, text %r' % (to, subject, body))
    other_to = text_of(other.entry('To')) or ''
    if other_to != 'carol@example.org':
        raise Failure('the new window has To %r' % other_to)
    app.alive()


def scenario_narrow_window(t):
    """Resized to 400 px wide, the form still fits and Send works."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'From a narrow window')
    window = ComposeWindow(app)
    frame = window.top()
    # The X window is larger than the window by the resize border GTK draws around it.
    origin_x, _, wid = app.window_origin(frame)
    border = 2 * origin_x
    t.display.xdotool('windowsize', wid, 400 + border, 700 + border)
    wait_for('the window to be 400 px wide', lambda: extents(frame)[2] == 400,
             alive=app.alive)
    # Every control the form needs lies inside those 400 px.
    for role, name in (('push button', 'Send'), ('text', 'To'), ('text', 'Subject'),
                       ('text', 'Message text')):
        acc = wait_for('%s %r on screen' % (role, name),
                       lambda: app.find(role, name=name, within=frame), alive=app.alive)
        x, _, w, _ = extents(acc)
        if x < 0 or x + w > 400:
            raise Failure('%s %r spans x %d..%d, outside the 400 px window' % (role, name, x, x + w))
    t.screenshot('narrow-window')
    window.click_send()
    wait_received(app, server, 1)
    window.wait_ready()
    app.alive()


def scenario_quit_while_sending(t):
    """Ctrl+Q while a message is on its way asks first, the app running meanwhile; confirmed,
    the send is cancelled and the app exits normally."""
    server = t.server()
    t.settings(**local_account(server))
    app = t.launch('--to', TO, '--subject', 'Quit while sending')
    window = ComposeWindow(app)
    server.handler.mode = 'stall'
    window.click_send()
    wait_for('the server to hold the message', server.handler.stalled.is_set, alive=app.alive)
    t.display.key('ctrl+q')

    def question():
        for frame in app.frames():
            if frame != window.top():
                return frame
        return None

    dialog = wait_for('a question before quitting', question, alive=app.alive)
    note('asked: %s' % ' / '.join(n for n in app.labels(within=dialog) if n))
    t.screenshot('quit-while-sending')
    app.alive()

    # Confirmed, the send is cancelled and the app ends on its own, normally.
    app.click(app.wait_find('the button that stops sending and closes', 'push button',
                            prefix='Cancel Sending', within=dialog))
    deadline = time.monotonic() + WAIT
    while app.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(POLL)
    code = app.proc.poll()
    if code != 0:
        raise Failure('after "Cancel Sending and Close" dispatch %s\n%s' % (
            'is still running' if code is None else 'ended with status %d' % code, app.log()[-3000:]))
    if server.handler.received():
        raise Failure('the server stored %r' % server.handler.received())


SCENARIOS = [
    ('send, then send again 5 times', scenario_send_five_times),
    ('type in the text, then click Send (twice)', scenario_type_body_then_send),
    ('Cancel mid-send, then send', scenario_cancel_then_send),
    ('refused message (554), then send', scenario_refused_then_send),
    ('edit the port in the account dialog, then send (password kept)', scenario_port_edited_keeps_password),
    ('mailto: while a draft is open', scenario_mailto_keeps_draft),
    ('narrow window (400 px)', scenario_narrow_window),
    ('quit during a send asks, then exits cleanly', scenario_quit_while_sending),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dispatch', required=True)
    p.add_argument('--schema-dir', required=True)
    p.add_argument('--output-dir')
    p.add_argument('only', nargs='*', help='run only scenarios whose function name contains this')
    args = p.parse_args()

    chosen = [(i, s) for i, s in enumerate(SCENARIOS, 1)
              if not args.only or any(o in s[1].__name__ for o in args.only)]
    print('1..%d' % len(chosen), flush=True)

    # meson's timeout sends SIGTERM: end the app, the servers and Xvfb on the way out.
    def stop(signum, frame):
        raise SystemExit('stopped by signal %d' % signum)
    signal.signal(signal.SIGTERM, stop)

    Atspi.init()
    t = Test(args)
    failed = 0
    try:
        for n, (title, scenario) in enumerate(s for _, s in chosen):
            n += 1
            started = time.monotonic()
            try:
                scenario(t)
                t.screenshot('%02d-%s' % (n, scenario.__name__[len('scenario_'):]))
                print('ok %d - %s' % (n, title), flush=True)
            except Exception as e:
                failed += 1
                t.screenshot('%02d-%s-FAILED' % (n, scenario.__name__[len('scenario_'):]))
                print('not ok %d - %s' % (n, title), flush=True)
                note(str(e) if isinstance(e, Failure) else traceback.format_exc())
                for app in t.apps:
                    if app.proc.poll() is None:
                        try:
                            note('accessibility tree at the failure:\n' + app.dump())
                        except Exception as dump_error:
                            note('no tree: %s' % dump_error)
                    note('output of dispatch (%s):\n%s' % (app.log_path, app.log()[-3000:]))
            finally:
                note('%.1f s' % (time.monotonic() - started))
                t.finish_scenario()
    finally:
        t.close()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
