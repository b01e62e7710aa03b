/* dispatch-smtp-dialogue.h — greeting, EHLO/HELO, STARTTLS, AUTH and QUIT on a job's connection.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Worker thread only. Each step reports its state and fails with a DISPATCH_ERROR that names
 * the stage and carries the server's reply.
 */
#pragma once

#include "dispatch-smtp-job.h"

G_BEGIN_DECLS

/* Connects, reads the greeting, says EHLO (HELO only after 500/502) and, with security
 * starttls, secures the connection and says EHLO again. The job then holds the capabilities. */
gboolean            dispatch_smtp_dialogue_open             (DispatchSmtpJob     *job,
                                                             GError             **error);

/* Whether the account asks to sign in (a user name, or an OAuth2 token). */
gboolean            dispatch_smtp_dialogue_wants_sign_in    (DispatchSmtpJob     *job);

/* A sign-in ready to go: the mechanism chosen among those offered, and its first command. */
typedef struct _DispatchSmtpSignIn DispatchSmtpSignIn;

const char         *dispatch_smtp_sign_in_get_mechanism     (DispatchSmtpSignIn  *sign_in);
/* TRUE when the first command carries everything and its one reply settles the sign-in
 * (AUTH PLAIN with an initial response, RFC 4954 §4): such an AUTH may be sent ahead of other
 * commands and its reply read later. */
gboolean            dispatch_smtp_sign_in_completes_at_once (DispatchSmtpSignIn  *sign_in);
void                dispatch_smtp_sign_in_free              (DispatchSmtpSignIn  *sign_in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpSignIn, dispatch_smtp_sign_in_free)

/* Refuses a password over a clear connection unless the account allows it, a server that
 * offers no AUTH, and a missing secret; picks the mechanism. Sends nothing. */
DispatchSmtpSignIn *dispatch_smtp_dialogue_begin_sign_in    (DispatchSmtpJob     *job,
                                                             GError             **error);
/* Sends the AUTH and answers challenges until the server's verdict, in lock-step. */
gboolean            dispatch_smtp_dialogue_sign_in          (DispatchSmtpJob     *job,
                                                             DispatchSmtpSignIn  *sign_in,
                                                             GCancellable        *cancellable,
                                                             GError             **error);
/* The two halves of a sign-in sent ahead: queue the AUTH (only when it completes at once),
 * and later read its one reply — TRUE for 235, else an error of stage AUTH. */
gboolean            dispatch_smtp_dialogue_queue_sign_in    (DispatchSmtpJob     *job,
                                                             DispatchSmtpSignIn  *sign_in,
                                                             GCancellable        *cancellable,
                                                             GError             **error);
gboolean            dispatch_smtp_dialogue_finish_sign_in   (DispatchSmtpJob     *job,
                                                             DispatchSmtpSignIn  *sign_in,
                                                             GCancellable        *cancellable,
                                                             GError             **error);

/* Queues QUIT behind what was already queued (after the end of the data). */
gboolean            dispatch_smtp_dialogue_queue_quit       (DispatchSmtpJob     *job,
                                                             GCancellable        *cancellable,
                                                             GError             **error);
/* Says QUIT where the connection can still carry it, reads what is still due for a short
 * grace period when @wait_for_reply, and closes. Never fails: the outcome is known by then. */
void                dispatch_smtp_dialogue_quit             (DispatchSmtpJob     *job,
                                                             gboolean             wait_for_reply,
                                                             GCancellable        *cancellable);

G_END_DECLS
