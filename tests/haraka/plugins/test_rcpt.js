// test_rcpt — Haraka plugin of test-haraka.py: which recipients the test server takes.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// The mailboxes in config/test_mailboxes are taken from anyone on the MX port (as a domain's MX
// takes mail for its own users) and only after a sign-in elsewhere; any other address is
// refused with 550, so that a partly refused send can be checked.

exports.register = function () {
    this.mailboxes = new Set(this.config.get('test_mailboxes', 'list').map((a) => a.toLowerCase()))
    this.mx_port = parseInt(this.config.get('test_mx_port'), 10)
}

exports.hook_rcpt = function (next, connection, params) {
    const address = `${params[0].user}@${params[0].host}`.toLowerCase()
    if (!this.mailboxes.has(address)) {
        return next(DENY, `5.1.1 <${address}>: no such mailbox here`)
    }
    if (connection.local.port !== this.mx_port && !connection.relaying) {
        return next(DENY, '5.7.0 Authentication required')
    }
    next(OK)
}
