/* dispatch-smtp-job.h — one operation's context: what to send, the wire, and the way back.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A job is made on the caller's thread and then used only by the worker, except for its event
 * queue: the worker posts events, and they are delivered on the caller's main context, in
 * order. The dialogue and the transaction work on a job; neither knows the session.
 */
#pragma once

#include <gio/gio.h>

#include "dispatch-account.h"
#include "dispatch-error.h"
#include "dispatch-message.h"
#include "dispatch-smtp-capabilities.h"
#include "dispatch-smtp-connection.h"
#include "dispatch-smtp-reply.h"
#include "dispatch-smtp-result.h"

G_BEGIN_DECLS

typedef struct _DispatchSmtpJob DispatchSmtpJob;

typedef enum
{
  DISPATCH_SMTP_EVENT_STATE,           /* value: DispatchSmtpState */
  DISPATCH_SMTP_EVENT_TRANSCRIPT,      /* value: DispatchSmtpDirection; text: the line */
  DISPATCH_SMTP_EVENT_PROGRESS,        /* sent, total: message octets */
  DISPATCH_SMTP_EVENT_RECIPIENT,       /* text: address; value: reply code; reply: reply text */
} DispatchSmtpEventKind;

typedef struct
{
  DispatchSmtpEventKind kind;
  guint                 value;
  char                 *text;
  char                 *reply;
  guint64               sent;
  guint64               total;
} DispatchSmtpEvent;

/* Called on the caller's main context for each event, oldest first. */
typedef void (*DispatchSmtpEventFunc) (GObject                 *target,
                                       const DispatchSmtpEvent *event);

/* Copies @account, @password and @oauth2_token (both wiped when the job ends); refs @message
 * (nullable: a connection test), @cancellable (nullable) and @target. Events go to @emit on
 * the calling thread's default main context. */
DispatchSmtpJob          *dispatch_smtp_job_new              (DispatchAccount       *account,
                                                              const char            *password,
                                                              const char            *oauth2_token,
                                                              DispatchMessage       *message,
                                                              GCancellable          *cancellable,
                                                              GObject               *target,
                                                              DispatchSmtpEventFunc  emit);
DispatchSmtpJob          *dispatch_smtp_job_ref              (DispatchSmtpJob       *job);
void                      dispatch_smtp_job_unref            (DispatchSmtpJob       *job);

/* On the caller's context, once the worker is done: delivers every event still queued, at
 * once, and lets go of the target. */
void                      dispatch_smtp_job_finish_events    (DispatchSmtpJob       *job);

/* ─── What the operation is about (worker thread) ─── */

DispatchAccount          *dispatch_smtp_job_get_account      (DispatchSmtpJob       *job);
/* NULL for a connection test. */
DispatchMessage          *dispatch_smtp_job_get_message      (DispatchSmtpJob       *job);
const char               *dispatch_smtp_job_get_password     (DispatchSmtpJob       *job);
const char               *dispatch_smtp_job_get_oauth2_token (DispatchSmtpJob       *job);
GCancellable             *dispatch_smtp_job_get_cancellable  (DispatchSmtpJob       *job);
const char               *dispatch_smtp_job_get_host         (DispatchSmtpJob       *job);
DispatchSmtpConnection   *dispatch_smtp_job_get_connection   (DispatchSmtpJob       *job);
/* What the server offered in its last EHLO (NULL before); the dialogue sets it. */
DispatchSmtpCapabilities *dispatch_smtp_job_get_capabilities (DispatchSmtpJob       *job);
void                      dispatch_smtp_job_take_capabilities (DispatchSmtpJob          *job,
                                                               DispatchSmtpCapabilities *capabilities);
/* The outcome being gathered. */
DispatchSmtpResult       *dispatch_smtp_job_get_result       (DispatchSmtpJob       *job);
DispatchSmtpResult       *dispatch_smtp_job_steal_result     (DispatchSmtpJob       *job);
/* Forgets what a first attempt gathered, for a second one on a new connection. */
void                      dispatch_smtp_job_restart          (DispatchSmtpJob       *job);

/* ─── Events (worker thread) ─── */

void                      dispatch_smtp_job_set_state        (DispatchSmtpJob       *job,
                                                              DispatchSmtpState      state);
void                      dispatch_smtp_job_info             (DispatchSmtpJob       *job,
                                                              const char            *format,
                                                              ...) G_GNUC_PRINTF (2, 3);
/* Message octets sent so far, against the total set before. */
void                      dispatch_smtp_job_set_total        (DispatchSmtpJob       *job,
                                                              guint64                total);
guint64                   dispatch_smtp_job_get_total        (DispatchSmtpJob       *job);
void                      dispatch_smtp_job_progress         (DispatchSmtpJob       *job,
                                                              guint64                sent);
void                      dispatch_smtp_job_recipient        (DispatchSmtpJob       *job,
                                                              const char            *address,
                                                              guint                  code,
                                                              const char            *reply);

/* ─── The wire, keeping "can a QUIT still be said" true to what the connection can carry ─── */

DispatchSmtpReply        *dispatch_smtp_job_read_reply       (DispatchSmtpJob       *job,
                                                              DispatchSmtpStage      stage,
                                                              GCancellable          *cancellable,
                                                              GError               **error);
/* Queues a command for the next flight; @shown replaces it in the transcript (AUTH). */
gboolean                  dispatch_smtp_job_queue            (DispatchSmtpJob       *job,
                                                              const char            *line,
                                                              const char            *shown,
                                                              GCancellable          *cancellable,
                                                              GError               **error);
/* Queues and sends at once. */
gboolean                  dispatch_smtp_job_send             (DispatchSmtpJob       *job,
                                                              const char            *line,
                                                              const char            *shown,
                                                              GCancellable          *cancellable,
                                                              GError               **error);
/* FALSE in the middle of message data or of a TLS handshake, and after the connection broke
 * or brought a reply to no command. */
gboolean                  dispatch_smtp_job_get_can_quit     (DispatchSmtpJob       *job);
void                      dispatch_smtp_job_set_can_quit     (DispatchSmtpJob       *job,
                                                              gboolean               can_quit);
/* Whether QUIT already went out (pipelined behind the data). */
gboolean                  dispatch_smtp_job_get_quit_sent    (DispatchSmtpJob       *job);
void                      dispatch_smtp_job_set_quit_sent    (DispatchSmtpJob       *job,
                                                              gboolean               quit_sent);

/* A 4xx is always "try again later" (DISPATCH_ERROR_TEMPORARY); a 5xx is @permanent. */
void                      dispatch_smtp_job_set_reply_error  (GError                 **error,
                                                              const DispatchSmtpReply *reply,
                                                              DispatchSmtpStage        stage,
                                                              DispatchError            permanent,
                                                              const char              *hint,
                                                              const char              *format,
                                                              ...) G_GNUC_PRINTF (6, 7);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpJob, dispatch_smtp_job_unref)

G_END_DECLS
