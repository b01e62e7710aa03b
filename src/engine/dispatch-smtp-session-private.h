/* dispatch-smtp-session-private.h — the worker's job, shared by the session and its transaction.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Everything here runs in the worker thread; events reach the caller through the session.
 */
#pragma once

#include "dispatch-account.h"
#include "dispatch-message.h"
#include "dispatch-smtp-capabilities.h"
#include "dispatch-smtp-connection.h"
#include "dispatch-smtp-session.h"

G_BEGIN_DECLS

typedef struct _DispatchSmtpJob DispatchSmtpJob;

/* Everything one operation needs, owned by the worker. */
struct _DispatchSmtpJob
{
  DispatchSmtpSession      *session;
  DispatchAccount          *account;      /* a private copy: the caller may edit theirs */
  DispatchMessage          *message;      /* NULL for a connection test */
  char                     *password;
  char                     *oauth2_token;

  DispatchSmtpConnection   *connection;
  DispatchSmtpCapabilities *capabilities;
  DispatchSmtpResult       *result;

  /* Whether a QUIT would be understood: FALSE in the middle of message data or of a TLS
   * handshake, and after the connection broke. */
  gboolean                  can_quit;
  gboolean                  quit_sent;
  /* The mechanism of an AUTH sent ahead of the transaction whose reply is still to be read. */
  char                     *auth_pending;
  guint64                   total;
  /* A server that answered 503 to a command sent ahead of its turn (after a success, so not
   * for a reason of its own): the transaction is done again, one command at a time. */
  gboolean                  pipelining_refused;
  gboolean                  lockstep;
};

void                dispatch_smtp_job_set_state       (DispatchSmtpJob    *job,
                                                       DispatchSmtpState   state);
void                dispatch_smtp_job_info            (DispatchSmtpJob    *job,
                                                       const char         *format,
                                                       ...) G_GNUC_PRINTF (2, 3);
/* Message octets sent so far, against job->total. */
void                dispatch_smtp_job_progress        (DispatchSmtpJob    *job,
                                                       guint64             sent);
void                dispatch_smtp_job_recipient       (DispatchSmtpJob    *job,
                                                       const char         *address,
                                                       guint               code,
                                                       const char         *reply);
const char         *dispatch_smtp_job_host            (DispatchSmtpJob    *job);

/* The wire, keeping job->can_quit true to what the connection can still carry. */
DispatchSmtpReply  *dispatch_smtp_job_read_reply      (DispatchSmtpJob    *job,
                                                       DispatchSmtpStage   stage,
                                                       GCancellable       *cancellable,
                                                       GError            **error);
gboolean            dispatch_smtp_job_queue           (DispatchSmtpJob    *job,
                                                       const char         *line,
                                                       const char         *shown,
                                                       GCancellable       *cancellable,
                                                       GError            **error);
gboolean            dispatch_smtp_job_send            (DispatchSmtpJob    *job,
                                                       const char         *line,
                                                       const char         *shown,
                                                       GCancellable       *cancellable,
                                                       GError            **error);

/* A 4xx is always "try again later" (DISPATCH_ERROR_TEMPORARY); a 5xx is @permanent. */
void                dispatch_smtp_job_set_reply_error (GError                 **error,
                                                       const DispatchSmtpReply *reply,
                                                       DispatchSmtpStage        stage,
                                                       DispatchError            permanent,
                                                       const char              *hint,
                                                       const char              *format,
                                                       ...) G_GNUC_PRINTF (6, 7);

DispatchSmtpRecipient *dispatch_smtp_recipient_new    (const char         *address,
                                                       guint               code,
                                                       const char         *reply);

/* Reads the reply to an AUTH sent ahead of the transaction, if any: TRUE for 235, else an
 * authentication error (stage AUTH). */
gboolean            dispatch_smtp_job_finish_auth     (DispatchSmtpJob    *job,
                                                       GCancellable       *cancellable,
                                                       GError            **error);

/* MAIL, RCPT…, then DATA or BDAT, pipelined when offered (dispatch-smtp-session-transaction.c). */
gboolean            dispatch_smtp_job_transaction     (DispatchSmtpJob    *job,
                                                       GCancellable       *cancellable,
                                                       GError            **error);

G_END_DECLS
