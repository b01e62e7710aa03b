#!/usr/bin/python3
# postfix-instance.py — start and stop a private Postfix + Dovecot SASL submission server on 127.0.0.1.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage:
#   postfix-instance.py start DIR [--smtpd-verbose] [--user NAME] [--password-file FILE]
#                                 [--mailbox ADDRESS]... [--cert PEM --key PEM]
#       DIR must be absent or empty. Starts Postfix (its `master` run directly, with its own
#       config, queue and data directories under DIR) and Dovecot (auth only, its own config
#       under DIR), waits until both ports greet, prints one JSON object on stdout and returns,
#       leaving both running:
#         {"host": "127.0.0.1", "submission": PORT, "submissions": PORT, "mx": PORT, "user": "alice",
#          "password_file": ".../password", "mailboxes": {"bob@example.net": ".../Maildir"},
#          "maillog": ".../postfix.log", "pid_file": "DIR/instance.pids", "dir": "DIR"}
#       submission = STARTTLS required, AUTH only after it; submissions = implicit TLS; mx = like
#       submission, but as a domain's MX does it takes mail for its own mailboxes from anyone
#       (AUTH only needed to relay). All offer PLAIN and LOGIN through Dovecot, PIPELINING and
#       CHUNKING (Postfix defaults), and deliver to one Maildir per --mailbox (default bob@,
#       carol@example.net, dave@example.com).
#       Without --password-file a random password is generated into DIR/password.
#   postfix-instance.py stop DIR
#       Stops the processes listed in DIR/instance.pids, by PID, after checking that each PID
#       still runs a program of this instance. Waits until they are gone (at most ~20 s).
#
# Exit status: 0 done, 1 failed (the reason and the logs' tails on stderr), 77 Postfix or
# Dovecot is not installed or we are not root (master(8) must start as root to drop to the
# postfix user). Needs the Debian packages postfix and dovecot-core, never their system
# services or configuration: nothing under /etc/postfix or /etc/dovecot is used or changed.
#
# As a module (the tests load it with importlib), Instance does the same with the daemons as
# children of the caller, and a watchdog process that stops them if the caller dies first.

import argparse
import ctypes
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CERT = os.path.join(HERE, 'files', 'server.pem')
DEFAULT_KEY = os.path.join(HERE, 'files', 'server-key.pem')
DEFAULT_MAILBOXES = ('bob@example.net', 'carol@example.net', 'dave@example.com')

POSTFIX = '/usr/sbin/postfix'
POSTFIX_MASTER = '/usr/lib/postfix/sbin/master'
DOVECOT = '/usr/sbin/dovecot'

START_TIMEOUT = 30
STOP_TIMEOUT = 20
EXIT_MISSING = 77

# Messages of tens of megabytes are the point of some tests and benchmarks; Postfix's
# default limit (10 MB) would refuse them before any byte of ours is exercised.
MESSAGE_SIZE_LIMIT = 100 * 1024 * 1024


class Missing(Exception):
    """A prerequisite (program, privilege) is absent: callers skip or fail as they see fit."""


class StartError(Exception):
    pass


def missing_prerequisites():
    """What keeps an instance from starting here, as sentences; empty when nothing does."""
    problems = []
    if not (os.access(POSTFIX, os.X_OK) and os.access(POSTFIX_MASTER, os.X_OK)):
        problems.append('Postfix is not installed (%s, %s; Debian package postfix)'
                        % (POSTFIX, POSTFIX_MASTER))
    if not os.access(DOVECOT, os.X_OK):
        problems.append('Dovecot is not installed (%s; Debian package dovecot-core)' % DOVECOT)
    if os.geteuid() != 0:
        problems.append('not running as root: Postfix master(8) starts as root and drops '
                        'to the postfix user')
    for user in ('postfix', 'dovecot', 'dovenull'):
        try:
            pwd.getpwnam(user)
        except KeyError:
            problems.append('system user %r is missing (created by the Debian packages)' % user)
    return problems


def free_port():
    # Ask the kernel for a free port and give it back at once; the short window before master
    # binds it is covered by retrying the whole start.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _own_group():
    # Runs in the child between fork and exec. master(8) signals its whole process group when
    # it stops, which must not include the caller.
    os.setpgid(0, 0)


def _tail(path, limit=4000):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().split(b'\0')
    except OSError:
        return None


def _stat(pid):
    """(state, process group) of a PID, or None once it has gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return fields[0], int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def group_members(pgid):
    """Live (not zombie) processes in a process group."""
    members = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pgid and stat[0] not in ('Z', 'X'):
                members.append(int(entry))
    return members


def become_subreaper():
    """Makes this process adopt its orphaned descendants, so that the daemons' children,
    which outlive their parents by a moment at shutdown, can be reaped here rather than left
    as zombies where init does not reap (some container and VM inits do not)."""
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap_group(pgid):
    """Collects the exit status of any child of ours left in that group (see above)."""
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_groups(entries, timeout=STOP_TIMEOUT):
    """Stops (name, pid, marker) entries, each the leader of its own process group: SIGTERM to
    the leader (Postfix master and Dovecot take their children down themselves), a bounded
    wait until no live process is left in the group, then SIGKILL to what remains. A running
    PID whose command line does not mention the marker (a path of our instance) has been
    reused by someone else and is left alone. A leader that is gone while processes of its
    group live on left them orphaned: the kernel does not hand out a PID still in use as a
    group id, so they are ours, and get SIGTERM directly. Returns the names of groups that
    had to be killed."""
    groups = []
    for name, pid, marker in entries:
        argv = _cmdline(pid)
        stat = _stat(pid)
        try:
            if argv is None or stat is None or stat[0] in ('Z', 'X'):
                if group_members(pid):
                    os.killpg(pid, signal.SIGTERM)
                    groups.append((name, pid))
            elif stat[1] == pid and marker.encode() in b' '.join(argv):
                os.kill(pid, signal.SIGTERM)
                groups.append((name, pid))
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while groups and time.monotonic() < deadline:
        if not any(group_members(g) for _, g in groups):
            return []
        time.sleep(0.1)
    killed = []
    for name, pgid in groups:
        if group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
                killed.append(name)
            except ProcessLookupError:
                pass
    return killed


def _start_watchdog():
    """Forks a process, in a session of its own, that outlives a caller killed without notice
    (meson kills a test that overruns its timeout with SIGTERM, then SIGKILL, to its process
    group). The caller writes one JSON line per daemon to the returned pipe, and "done" once
    it has stopped them; if the pipe reaches end-of-file without "done", the caller died and
    the watchdog stops the daemons itself. PR_SET_PDEATHSIG cannot do this: the kernel clears
    it when master(8) changes its credentials. Returns (pid, write end)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(r)
        return pid, w
    try:
        os.setsid()
        # Hold nothing of the caller's open, least of all the pipe meson reads its output from.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, r)
        os.closerange(r + 1, os.sysconf('SC_OPEN_MAX'))
        data = b''
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        lines = data.decode('utf-8', 'replace').splitlines()
        if 'done' not in lines:
            entries = []
            for line in lines:
                try:
                    e = json.loads(line)
                    entries.append((e['name'], int(e['pid']), e['marker']))
                except (ValueError, KeyError, TypeError):
                    pass
            stop_groups(entries)
    finally:
        os._exit(0)


class Instance:
    """One private Postfix + Dovecot under `directory`, on two free 127.0.0.1 ports."""

    def __init__(self, directory, user='alice', password=None, mailboxes=DEFAULT_MAILBOXES,
                 cert=DEFAULT_CERT, key=DEFAULT_KEY, smtpd_verbose=False, tie_to_caller=True):
        self.dir = os.path.abspath(directory)
        self.user = user
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.mailboxes = list(mailboxes)
        self.cert = cert
        self.key = key
        self.smtpd_verbose = smtpd_verbose
        self.tie_to_caller = tie_to_caller
        self.submission = None
        self.submissions = None
        self.mx = None
        self.master = None
        self.dovecot = None
        self.watchdog = None
        self._watchdog_pipe = None

        self.etc = os.path.join(self.dir, 'postfix')
        self.queue = os.path.join(self.dir, 'queue')
        self.data = os.path.join(self.dir, 'data')
        self.mail = os.path.join(self.dir, 'mail')
        self.dovecot_dir = os.path.join(self.dir, 'dovecot')
        self.maillog = os.path.join(self.dir, 'postfix.log')
        self.dovecot_log = os.path.join(self.dovecot_dir, 'dovecot.log')
        self.password_file = os.path.join(self.dir, 'password')
        self.pid_file = os.path.join(self.dir, 'instance.pids')

        for value in (self.user, self.password):
            # passwd-file fields are colon-separated lines; Postfix map values are one line.
            if any(c in value for c in ':\r\n\0') or not value:
                raise ValueError('user and password must be non-empty and hold no ":" or line end')
        for address in self.mailboxes:
            local, _, domain = address.partition('@')
            if not local or not domain or any(c in address for c in ' \t/\r\n:'):
                raise ValueError('not a plain mailbox address: %r' % address)

    # ─── Paths the caller reads ──────────────────────────────────────────────────────────

    def maildir(self, address):
        local, _, domain = address.partition('@')
        return os.path.join(self.mail, domain, local, 'Maildir')

    def messages(self, address):
        """Files delivered to that mailbox, oldest first."""
        new = os.path.join(self.maildir(address), 'new')
        try:
            names = os.listdir(new)
        except FileNotFoundError:
            return []
        paths = [os.path.join(new, n) for n in names]
        return sorted(paths, key=lambda p: (os.stat(p).st_mtime, p))

    def info(self):
        return {
            'host': '127.0.0.1',
            'submission': self.submission,
            'submissions': self.submissions,
            'mx': self.mx,
            'user': self.user,
            'password_file': self.password_file,
            'mailboxes': {a: self.maildir(a) for a in self.mailboxes},
            'maillog': self.maillog,
            'dovecot_log': self.dovecot_log,
            'pid_file': self.pid_file,
            'dir': self.dir,
        }

    def logs(self):
        return ('--- %s (tail) ---\n%s\n--- %s (tail) ---\n%s'
                % (self.maillog, _tail(self.maillog), self.dovecot_log, _tail(self.dovecot_log)))

    # ─── Configuration ───────────────────────────────────────────────────────────────────

    def _write(self, path, text, mode=0o644):
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        os.chmod(path, mode)

    def _configure(self):
        nobody = pwd.getpwnam('nobody')
        postfix = pwd.getpwnam('postfix')
        domains = sorted({a.partition('@')[2] for a in self.mailboxes})

        # The virtual delivery agent runs as the mailbox owner (nobody) and must reach the
        # Maildirs through every parent; mkdtemp's 0700 would stop it.
        os.chmod(self.dir, 0o755)
        for d in (self.etc, self.queue, self.data, self.mail, self.dovecot_dir):
            os.makedirs(d, exist_ok=True)
        os.chown(self.data, postfix.pw_uid, postfix.pw_gid)
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)

        # smtpd reads the key as root before it drops privileges; a copy keeps the instance
        # independent of how the source tree's files are owned.
        cert = os.path.join(self.etc, 'server.pem')
        key = os.path.join(self.etc, 'server-key.pem')
        shutil.copyfile(self.cert, cert)
        shutil.copyfile(self.key, key)
        os.chmod(key, 0o600)

        self._write(self.password_file, self.password + '\n', 0o600)
        self._write(os.path.join(self.etc, 'vmailbox'),
                    ''.join('%s %s/%s/Maildir/\n' % (a, a.partition('@')[2], a.partition('@')[0])
                            for a in self.mailboxes))

        error_transport = 'error:5.7.1 this test instance delivers nowhere else'
        main_cf = {
            'compatibility_level': '3.6',
            'queue_directory': self.queue,
            'data_directory': self.data,
            'maillog_file': self.maillog,
            'maillog_file_prefixes': self.dir,
            'myhostname': 'mx.dispatch.test',
            'mydomain': 'dispatch.test',
            'myorigin': '$myhostname',
            'mydestination': '',
            # Nobody is trusted by address: relaying is for SASL-authenticated clients only.
            'mynetworks': '',
            'inet_interfaces': 'loopback-only',
            'inet_protocols': 'ipv4',
            # No DNS in a CI sandbox: name the client by its address.
            'smtpd_peername_lookup': 'no',
            'biff': 'no',
            'alias_maps': '',
            'alias_database': '',
            'notify_classes': '',
            'local_transport': error_transport,
            'relay_transport': error_transport,
            'default_transport': error_transport,
            'virtual_transport': 'virtual',
            'virtual_mailbox_domains': ' '.join(domains),
            'virtual_mailbox_base': self.mail,
            'virtual_mailbox_maps': 'texthash:' + os.path.join(self.etc, 'vmailbox'),
            'virtual_uid_maps': 'static:%d' % nobody.pw_uid,
            'virtual_gid_maps': 'static:%d' % nobody.pw_gid,
            'virtual_mailbox_limit': '0',
            'mailbox_size_limit': '0',
            'message_size_limit': str(MESSAGE_SIZE_LIMIT),
            'queue_minfree': '0',
            'smtpd_banner': '$myhostname ESMTP Postfix',
            'smtpd_tls_cert_file': cert,
            'smtpd_tls_key_file': key,
            'smtpd_tls_security_level': 'encrypt',
            'smtpd_tls_auth_only': 'yes',
            'smtpd_tls_loglevel': '1',
            'smtpd_tls_received_header': 'yes',
            'smtpd_sasl_auth_enable': 'yes',
            'smtpd_sasl_type': 'dovecot',
            # Relative to the queue directory, where smtpd works; Dovecot listens there.
            'smtpd_sasl_path': 'private/auth',
            'smtpd_client_restrictions': 'permit_sasl_authenticated, reject',
            'smtpd_relay_restrictions': 'permit_sasl_authenticated, reject',
            'smtpd_reject_unlisted_recipient': 'yes',
            # Server-side checks on the client's wire format and command order: a bare LF in a
            # command or in the content is refused outright, as is pipelining where RFC 2920
            # does not allow it (both are Postfix 3.7.10+ backports of the SMTP-smuggling
            # fixes; Debian 12 ships 3.7.11).
            'smtpd_forbid_bare_newline': 'reject',
            'smtpd_forbid_bare_newline_exclusions': '',
            'smtpd_forbid_unauth_pipelining': 'yes',
        }
        self._write(os.path.join(self.etc, 'main.cf'),
                    ''.join('%s = %s\n' % kv for kv in main_cf.items()))

        # -v three times makes vstream(3) log every read() and flush of the client stream
        # ("got N", "flush N") next to each command; test-postfix.py reads pipelining from it.
        smtpd = 'smtpd' + (' -v -v -v' if self.smtpd_verbose else '')
        services = [
            ('127.0.0.1:%d' % self.submission, 'inet', 'n', '-', 'n', '-', '-', smtpd,
             ['syslog_name=postfix/submission']),
            ('127.0.0.1:%d' % self.submissions, 'inet', 'n', '-', 'n', '-', '-', smtpd,
             ['syslog_name=postfix/submissions', 'smtpd_tls_wrappermode=yes']),
            # A domain's MX: its own mailboxes take mail from anyone, signed in or not.
            ('127.0.0.1:%d' % self.mx, 'inet', 'n', '-', 'n', '-', '-', smtpd,
             ['syslog_name=postfix/mx', 'smtpd_client_restrictions=',
              'smtpd_relay_restrictions=permit_sasl_authenticated,reject_unauth_destination']),
            # The internal services a submission needs, none chrooted (no copies of /etc).
            ('cleanup', 'unix', 'n', '-', 'n', '-', '0', 'cleanup', []),
            ('qmgr', 'unix', 'n', '-', 'n', '300', '1', 'qmgr', []),
            ('tlsmgr', 'unix', '-', '-', 'n', '1000?', '1', 'tlsmgr', []),
            ('rewrite', 'unix', '-', '-', 'n', '-', '-', 'trivial-rewrite', []),
            ('bounce', 'unix', '-', '-', 'n', '-', '0', 'bounce', []),
            ('defer', 'unix', '-', '-', 'n', '-', '0', 'bounce', []),
            ('trace', 'unix', '-', '-', 'n', '-', '0', 'bounce', []),
            ('verify', 'unix', '-', '-', 'n', '-', '1', 'verify', []),
            ('flush', 'unix', 'n', '-', 'n', '1000?', '0', 'flush', []),
            ('proxymap', 'unix', '-', '-', 'n', '-', '-', 'proxymap', []),
            ('proxywrite', 'unix', '-', '-', 'n', '-', '1', 'proxymap', []),
            ('error', 'unix', '-', '-', 'n', '-', '-', 'error', []),
            ('retry', 'unix', '-', '-', 'n', '-', '-', 'error', []),
            ('discard', 'unix', '-', '-', 'n', '-', '-', 'discard', []),
            ('virtual', 'unix', '-', 'n', 'n', '-', '-', 'virtual', []),
            ('anvil', 'unix', '-', '-', 'n', '-', '1', 'anvil', []),
            ('scache', 'unix', '-', '-', 'n', '-', '1', 'scache', []),
            ('postlog', 'unix-dgram', 'n', '-', 'n', '-', '1', 'postlogd', []),
        ]
        lines = []
        for *fields, command, options in services:
            lines.append('  '.join(fields + [command]))
            lines += ['  -o ' + o for o in options]
        self._write(os.path.join(self.etc, 'master.cf'), '\n'.join(lines) + '\n')

        dovecot_conf = '''\
# Generated by postfix-instance.py: Dovecot as Postfix's SASL server, nothing else.
base_dir = {d}/run
state_dir = {d}/state
log_path = {log}
instance_name = dispatch-test-{tag}
protocols =
ssl = no
# Postfix passes on whether the connection is encrypted; Dovecot refuses plaintext
# passwords on one that is not, a second lock behind smtpd_tls_auth_only.
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {queue}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
'''.format(d=self.dovecot_dir, log=self.dovecot_log, queue=self.queue,
           tag=secrets.token_hex(4))
        self.dovecot_conf = os.path.join(self.dovecot_dir, 'dovecot.conf')
        self._write(self.dovecot_conf, dovecot_conf)
        # Read by Dovecot's auth process, which runs as the dovecot user.
        users = os.path.join(self.dovecot_dir, 'users')
        self._write(users, '%s:{PLAIN}%s\n' % (self.user, self.password), 0o640)
        os.chown(users, 0, pwd.getpwnam('dovecot').pw_gid)
        for d in ('run', 'state'):
            os.makedirs(os.path.join(self.dovecot_dir, d), exist_ok=True)

    # ─── Life cycle ──────────────────────────────────────────────────────────────────────

    def _spawn(self, argv, log_name):
        log = open(os.path.join(self.dir, log_name), 'ab')
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    preexec_fn=_own_group,
                                    env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin',
                                         'LANG': 'C.UTF-8'})
        finally:
            log.close()

    def _entries(self):
        entries = []
        if self.master is not None:
            entries.append({'name': 'master', 'pid': self.master.pid, 'marker': self.etc})
        if self.dovecot is not None:
            entries.append({'name': 'dovecot', 'pid': self.dovecot.pid,
                            'marker': self.dovecot_conf})
        return entries

    def _write_pid_file(self, spawned):
        entries = self._entries()
        if self._watchdog_pipe is not None:
            os.write(self._watchdog_pipe, (json.dumps({'name': spawned[0], 'pid': spawned[1].pid,
                                                       'marker': spawned[2]}) + '\n').encode())
        tmp = self.pid_file + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(entries, f)
        os.replace(tmp, self.pid_file)

    def _wait_ready(self, deadline):
        auth_socket = os.path.join(self.queue, 'private', 'auth')
        context = ssl.create_default_context(cafile=None)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # only asks "does it greet?"; tests verify for real
        pending = {'submission': False, 'submissions': True, 'mx': False}
        while True:
            for proc, what in ((self.master, 'Postfix master'), (self.dovecot, 'Dovecot')):
                if proc.poll() is not None:
                    raise StartError('%s exited with status %d during start-up'
                                     % (what, proc.returncode))
            if os.path.exists(auth_socket):
                for name, tls in list(pending.items()):
                    port = getattr(self, name)
                    try:
                        with socket.create_connection(('127.0.0.1', port), timeout=2) as raw:
                            sock = context.wrap_socket(raw) if tls else raw
                            banner = sock.recv(512)
                            sock.sendall(b'QUIT\r\n')
                        if banner.startswith(b'220'):
                            del pending[name]
                    except OSError:
                        pass
                if not pending:
                    return
            if time.monotonic() > deadline:
                raise StartError('not ready after %ds (waiting for %s%s)'
                                 % (START_TIMEOUT, ', '.join(pending),
                                    '' if os.path.exists(auth_socket) else ', Dovecot auth socket'))
            time.sleep(0.1)

    def start(self, timeout=START_TIMEOUT):
        problems = missing_prerequisites()
        if problems:
            raise Missing('; '.join(problems))
        os.makedirs(self.dir, exist_ok=True)
        if os.listdir(self.dir):
            raise StartError('%s is not empty' % self.dir)
        # Postfix's daemons run as the postfix user and the delivery agent as nobody; neither
        # can reach DIR through a parent that only root may enter (mkdtemp makes such ones),
        # and master(8) would die without a word where there is no syslog.
        parent = os.path.dirname(self.dir)
        while True:
            if not os.stat(parent).st_mode & 0o001:
                raise StartError('%s must be searchable by other users (chmod o+x) so that '
                                 'the postfix and nobody users can reach %s' % (parent, self.dir))
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)

        if self.tie_to_caller and self.watchdog is None:
            self.watchdog, self._watchdog_pipe = _start_watchdog()

        last_error = None
        # A port taken by someone else between free_port() and master's bind() makes master
        # exit at once (saying why only to syslog, which a CI machine may not have): a daemon
        # that dies during start-up gets two more tries on other ports; a hang does not.
        for attempt in range(3):
            ports = set()
            while len(ports) < 3:
                ports.add(free_port())
            self.submission, self.submissions, self.mx = sorted(ports)
            try:
                self._start_once(timeout)
                return self.info()
            except StartError as e:
                last_error = e
                self.stop()
                if 'during start-up' not in str(e) or attempt == 2:
                    break
                for entry in os.listdir(self.dir):
                    path = os.path.join(self.dir, entry)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path)
                    else:
                        os.unlink(path)
        raise last_error

    def _start_once(self, timeout):
        deadline = time.monotonic() + timeout
        self._configure()
        # `postfix check` creates the queue's subdirectories with the owners and modes
        # Postfix wants (post-install create-missing); it starts nothing.
        check = subprocess.run([POSTFIX, '-c', self.etc, 'check'], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if check.returncode != 0:
            raise StartError('postfix check failed (%d): %s\n%s'
                             % (check.returncode, check.stdout.decode('utf-8', 'replace'),
                                _tail(self.maillog)))
        # Foreground processes (dovecot -F, master -d) so they are our children, stopped by
        # their PIDs; each is its own process group leader.
        self.dovecot = self._spawn([DOVECOT, '-F', '-c', self.dovecot_conf], 'dovecot.out')
        self._write_pid_file(('dovecot', self.dovecot, self.dovecot_conf))
        self.master = self._spawn([POSTFIX_MASTER, '-d', '-c', self.etc], 'master.out')
        self._write_pid_file(('master', self.master, self.etc))
        try:
            self._wait_ready(deadline)
        except StartError as e:
            raise StartError('%s\n%s\n--- master.out ---\n%s\n--- dovecot.out ---\n%s'
                             % (e, self.logs(), _tail(os.path.join(self.dir, 'master.out')),
                                _tail(os.path.join(self.dir, 'dovecot.out'))))

    def stop(self, timeout=STOP_TIMEOUT):
        """Stops master and Dovecot, with everything they started. Returns the names of any
        that had to be killed."""
        entries = []
        if self.master is not None:
            entries.append(('master', self.master.pid, self.etc))
        if self.dovecot is not None:
            entries.append(('dovecot', self.dovecot.pid, self.dovecot_conf))
        killed = stop_groups(entries, timeout)
        for proc in (self.master, self.dovecot):
            if proc is not None:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    killed.append('unreaped %d' % proc.pid)
                reap_group(proc.pid)
        self.master = self.dovecot = None
        return killed

    def close(self):
        """Stops the instance and dismisses the watchdog. Returns what stop() returns."""
        killed = self.stop()
        if self.watchdog is not None:
            os.write(self._watchdog_pipe, b'done\n')
            os.close(self._watchdog_pipe)
            deadline = time.monotonic() + 5
            while os.waitpid(self.watchdog, os.WNOHANG)[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(self.watchdog, signal.SIGKILL)
                    os.waitpid(self.watchdog, 0)
                    break
                time.sleep(0.05)
            self.watchdog = self._watchdog_pipe = None
        return killed

    def process_groups(self):
        return [p.pid for p in (self.master, self.dovecot) if p is not None]


def stop_directory(directory, timeout=STOP_TIMEOUT):
    pid_file = os.path.join(os.path.abspath(directory), 'instance.pids')
    with open(pid_file, encoding='utf-8') as f:
        entries = [(e['name'], int(e['pid']), e['marker']) for e in json.load(f)]
    killed = stop_groups(entries, timeout)
    os.unlink(pid_file)
    return killed


def main(argv):
    p = argparse.ArgumentParser(
        description='Start or stop a private Postfix + Dovecot submission server on 127.0.0.1.')
    sub = p.add_subparsers(dest='command', required=True)
    start = sub.add_parser('start', help='start an instance in DIR and print its ports as JSON')
    start.add_argument('dir')
    start.add_argument('--user', default='alice', help='SASL user name (default alice)')
    start.add_argument('--password-file', help="first line is the user's password "
                                               '(default: a random one, in DIR/password)')
    start.add_argument('--mailbox', action='append', metavar='ADDRESS',
                       help='accept and deliver mail for ADDRESS; repeat (default: %s)'
                            % ', '.join(DEFAULT_MAILBOXES))
    start.add_argument('--cert', default=DEFAULT_CERT, help='server certificate chain (PEM)')
    start.add_argument('--key', default=DEFAULT_KEY, help='its private key (PEM)')
    start.add_argument('--smtpd-verbose', action='store_true',
                       help='log every command and every read and flush of the client '
                            'stream (slow; for protocol checks, not for benchmarks)')
    stop = sub.add_parser('stop', help='stop the instance in DIR by the PIDs it recorded')
    stop.add_argument('dir')
    args = p.parse_args(argv)

    if args.command == 'stop':
        try:
            stubborn = stop_directory(args.dir)
        except (OSError, ValueError, KeyError) as e:
            print('postfix-instance.py: cannot stop %s: %s' % (args.dir, e), file=sys.stderr)
            return 1
        if stubborn:
            print('postfix-instance.py: killed after %ds: %s'
                  % (STOP_TIMEOUT, ', '.join(stubborn)), file=sys.stderr)
        return 0

    password = None
    if args.password_file:
        with open(args.password_file, 'rb') as f:
            password = f.readline().rstrip(b'\r\n').decode('utf-8')
    instance = Instance(args.dir, user=args.user, password=password,
                        mailboxes=args.mailbox or DEFAULT_MAILBOXES, cert=args.cert,
                        key=args.key, smtpd_verbose=args.smtpd_verbose, tie_to_caller=False)
    try:
        info = instance.start()
    except Missing as e:
        print('postfix-instance.py: cannot run here: %s' % e, file=sys.stderr)
        return EXIT_MISSING
    except (StartError, OSError, subprocess.SubprocessError) as e:
        instance.stop()
        print('postfix-instance.py: start failed: %s' % e, file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
