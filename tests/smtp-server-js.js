// smtp-server-js.js — nodemailer's smtp-server on three loopback ports, storing each message as a file, for test-smtp-server-js.py.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Usage: node smtp-server-js.js CONFIG.json   (smtp-server found through NODE_PATH)
// CONFIG: {"submission": PORT, "submissions": PORT, "plain": PORT, "cert": PEM, "key": PEM,
//          "store": DIR, "user": NAME, "password": TEXT, "token": TEXT, "mailboxes": [ADDRESS…]}
//   submission   STARTTLS; AUTH PLAIN, LOGIN, XOAUTH2 only after it, and required
//   submissions  implicit TLS, the same AUTH
//   plain        no STARTTLS, no AUTH: mail for the mailboxes from anyone
// Each message becomes STORE/N.eml (the bytes after DATA, dot-unstuffed) and then STORE/N.json
// with its envelope and session, so that a reader who sees the .json sees a complete .eml.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { SMTPServer } = require('smtp-server');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const mailboxes = new Set(config.mailboxes);
let counter = 0;

function onAuth(auth, session, callback) {
  if (auth.method === 'XOAUTH2') {
    if (auth.username === config.user && auth.accessToken === config.token) {
      return callback(null, { user: auth.username });
    }
    // What Gmail answers to a bad token; the client then sends an empty line and gets 535.
    return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
  }
  if (auth.username === config.user && auth.password === config.password) {
    return callback(null, { user: auth.username });
  }
  const err = new Error('Authentication credentials invalid');
  err.responseCode = 535;
  return callback(err);
}

function onRcptTo(address, session, callback) {
  if (mailboxes.has(address.address.toLowerCase())) return callback();
  const err = new Error('5.1.1 <' + address.address + '>: mailbox unavailable');
  err.responseCode = 550;
  return callback(err);
}

function onData(stream, session, callback) {
  const id = String(++counter).padStart(4, '0') + '-' + process.pid;
  const eml = path.join(config.store, id + '.eml');
  const out = fs.createWriteStream(eml + '.part');
  stream.pipe(out);
  out.on('finish', () => {
    if (stream.sizeExceeded) {
      fs.unlinkSync(eml + '.part');
      const err = new Error('Message exceeds the size limit');
      err.responseCode = 552;
      return callback(err);
    }
    fs.renameSync(eml + '.part', eml);
    const meta = {
      from: session.envelope.mailFrom && session.envelope.mailFrom.address,
      to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
      user: session.user || null,
      secure: Boolean(session.secure),
      port: session.localPort,
    };
    fs.writeFileSync(path.join(config.store, id + '.json.part'), JSON.stringify(meta));
    fs.renameSync(path.join(config.store, id + '.json.part'), path.join(config.store, id + '.json'));
    callback(null, 'Message queued as ' + id);
  });
}

const tlsFiles = { key: fs.readFileSync(config.key), cert: fs.readFileSync(config.cert) };
const common = {
  name: 'smtp-server.test',
  size: 100 * 1024 * 1024,
  logger: true,
  onAuth,
  onRcptTo,
  onData,
};

const servers = [
  [config.submission, new SMTPServer({ ...common, ...tlsFiles, authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'] })],
  [config.submissions, new SMTPServer({ ...common, ...tlsFiles, secure: true, authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'] })],
  [config.plain, new SMTPServer({ ...common, disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true })],
];
for (const [port, server] of servers) {
  server.on('error', (err) => console.error('server error on port %d: %s', port, err.message));
  server.listen(port, '127.0.0.1');
}
process.on('SIGTERM', () => {
  for (const [, server] of servers) server.close();
  process.exit(0);
});
