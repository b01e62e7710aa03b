// test_queue — Haraka plugin of test-haraka.py: queue each message into a directory.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// config/test_store names the directory. Each message becomes UUID.eml (CRLF line ends, as it
// came over the wire less dot-stuffing, Haraka's Received line on top), then UUID.json with its
// envelope and session, so that a reader who sees the .json sees a complete .eml. Nothing is
// relayed: mail from signed-in clients (queue_outbound) is stored the same way.

const fs = require('node:fs')
const path = require('node:path')

exports.register = function () {
    this.store = this.config.get('test_store')
}

exports.hook_queue = function (next, connection) {
    const txn = connection.transaction
    const eml = path.join(this.store, `${txn.uuid}.eml`)
    const out = fs.createWriteStream(`${eml}.part`)
    out.once('error', (err) => next(DENYSOFT, `cannot store the message: ${err.message}`))
    out.once('close', () => {
        fs.renameSync(`${eml}.part`, eml)
        const meta = {
            from: `${txn.mail_from.user}@${txn.mail_from.host}`,
            to: txn.rcpt_to.map((r) => `${r.user}@${r.host}`.toLowerCase()),
            user: connection.notes.auth_user || null,
            secure: Boolean(connection.tls.enabled),
            port: connection.local.port,
        }
        const json = path.join(this.store, `${txn.uuid}.json`)
        fs.writeFileSync(`${json}.part`, JSON.stringify(meta))
        fs.renameSync(`${json}.part`, json)
        next(OK, `queued as ${txn.uuid}`)
    })
    txn.message_stream.pipe(out, { line_endings: '\r\n' })
}

// Mail from a signed-in client is "relaying" to Haraka and goes to this hook instead.
exports.hook_queue_outbound = exports.hook_queue
