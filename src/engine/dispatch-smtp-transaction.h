/* dispatch-smtp-transaction.h — MAIL, RCPT, DATA or BDAT, and when commands may go together.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Worker thread only. Every pipelining decision of a send is made behind this header: whether
 * the sign-in rides ahead of the envelope, what may leave before which reply, and whether a
 * server's objection to commands sent together calls for the send again in lock-step.
 */
#pragma once

#include "dispatch-smtp-dialogue.h"
#include "dispatch-smtp-job.h"

G_BEGIN_DECLS

typedef struct _DispatchSmtpTransaction DispatchSmtpTransaction;

/* The transaction of @job's message; it outlives one attempt, so that a retry knows. */
DispatchSmtpTransaction *dispatch_smtp_transaction_new          (DispatchSmtpJob          *job);
void                     dispatch_smtp_transaction_free         (DispatchSmtpTransaction  *tx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpTransaction, dispatch_smtp_transaction_free)

/* On a connection the dialogue opened: signs in with @sign_in (transfer full, nullable: no
 * sign-in), then sends the message. The job's result lists who was accepted and refused. */
gboolean                 dispatch_smtp_transaction_run          (DispatchSmtpTransaction  *tx,
                                                                 DispatchSmtpSignIn       *sign_in,
                                                                 GError                  **error);

/* After _run() failed with @error: TRUE when the server only objected to commands sent
 * together, so the same send is due again, one command at a time, on a new connection (once;
 * the next _run() is in lock-step). */
gboolean                 dispatch_smtp_transaction_should_retry (DispatchSmtpTransaction  *tx,
                                                                 const GError             *error);

G_END_DECLS
