/* dispatch-smtp-session.c — one SMTP submission (RFC 5321, 6409), run in a worker thread.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The public face of the engine's layers: it makes a job, runs the dialogue and the
 * transaction in a GTask thread, and turns the job's events into signals on the caller's main
 * context, all of them before the operation's callback.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-engine-enums.h"
#include "dispatch-smtp-dialogue.h"
#include "dispatch-smtp-job.h"
#include "dispatch-smtp-session.h"
#include "dispatch-smtp-transaction.h"

struct _DispatchSmtpSession
{
  GObject parent_instance;

  /* main-thread state */
  DispatchSmtpState state;
  gboolean busy;
};

G_DEFINE_FINAL_TYPE (DispatchSmtpSession, dispatch_smtp_session, G_TYPE_OBJECT)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_TRANSCRIPT,
  SIGNAL_PROGRESS,
  SIGNAL_RECIPIENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* On the caller's context, for each of the job's events in turn. */
static void
emit_event (GObject                 *target,
            const DispatchSmtpEvent *event)
{
  DispatchSmtpSession *self = DISPATCH_SMTP_SESSION (target);

  switch (event->kind)
    {
    case DISPATCH_SMTP_EVENT_STATE:
      self->state = event->value;
      g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (DispatchSmtpState) event->value);
      break;
    case DISPATCH_SMTP_EVENT_TRANSCRIPT:
      g_signal_emit (self, signals[SIGNAL_TRANSCRIPT], 0, (DispatchSmtpDirection) event->value, event->text);
      break;
    case DISPATCH_SMTP_EVENT_PROGRESS:
      g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, event->sent, event->total);
      break;
    case DISPATCH_SMTP_EVENT_RECIPIENT:
      g_signal_emit (self, signals[SIGNAL_RECIPIENT], 0, event->text, event->value, event->reply);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
dispatch_smtp_session_class_init (DispatchSmtpSessionClass *klass)
{
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, DISPATCH_TYPE_SMTP_STATE);
  signals[SIGNAL_TRANSCRIPT] =
    g_signal_new ("transcript", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, DISPATCH_TYPE_SMTP_DIRECTION, G_TYPE_STRING);
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
  signals[SIGNAL_RECIPIENT] =
    g_signal_new ("recipient", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING);
}

static void
dispatch_smtp_session_init (DispatchSmtpSession *self)
{
}

DispatchSmtpSession *
dispatch_smtp_session_new (void)
{
  return g_object_new (DISPATCH_TYPE_SMTP_SESSION, NULL);
}

DispatchSmtpState
dispatch_smtp_session_get_state (DispatchSmtpSession *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), DISPATCH_SMTP_STATE_IDLE);
  return self->state;
}

gboolean
dispatch_smtp_session_is_busy (DispatchSmtpSession *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), FALSE);
  return self->busy;
}

/* ─── The worker ────────────────────────────────────────────────────────────────────────── */

/* One attempt on a new connection: the dialogue, then the transaction (@tx) or, for a
 * connection test (@tx NULL), a sign-in in lock-step. */
static gboolean
attempt (DispatchSmtpJob          *job,
         DispatchSmtpTransaction  *tx,
         GError                  **error)
{
  g_autoptr(DispatchSmtpSignIn) sign_in = NULL;

  if (!dispatch_smtp_dialogue_open (job, error))
    return FALSE;
  if (dispatch_smtp_dialogue_wants_sign_in (job))
    {
      sign_in = dispatch_smtp_dialogue_begin_sign_in (job, error);
      if (sign_in == NULL)
        return FALSE;
    }
  if (tx != NULL)
    return dispatch_smtp_transaction_run (tx, g_steal_pointer (&sign_in), error);
  return sign_in == NULL ||
         dispatch_smtp_dialogue_sign_in (job, sign_in, dispatch_smtp_job_get_cancellable (job), error);
}

static DispatchSmtpResult *
run (DispatchSmtpJob  *job,
     GError          **error)
{
  DispatchMessage *message = dispatch_smtp_job_get_message (job);
  GCancellable *cancellable = dispatch_smtp_job_get_cancellable (job);
  g_autoptr(DispatchSmtpTransaction) tx = message ? dispatch_smtp_transaction_new (job) : NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  /* Bad input is found before a single byte goes out. The final build waits for EHLO. */
  ok = dispatch_account_validate (dispatch_smtp_job_get_account (job), &local_error);
  if (ok && message != NULL)
    ok = dispatch_message_prepare (message, FALSE, TRUE, cancellable, &local_error);

  ok = ok && attempt (job, tx, &local_error);

  /* Done again on a new connection: the old one may already carry a QUIT. */
  if (!ok && tx != NULL && dispatch_smtp_transaction_should_retry (tx, local_error))
    {
      dispatch_smtp_dialogue_quit (job, TRUE, NULL);
      g_clear_error (&local_error);
      dispatch_smtp_job_restart (job);
      ok = attempt (job, tx, &local_error);
    }

  if (ok)
    {
      DispatchSmtpConnection *connection = dispatch_smtp_job_get_connection (job);
      DispatchSmtpResult *result = dispatch_smtp_job_get_result (job);

      result->tls_version = dispatch_smtp_connection_dup_tls_version (connection);
      result->tls_cipher = dispatch_smtp_connection_dup_tls_cipher (connection);
      result->server_domain = g_strdup (dispatch_smtp_capabilities_get_domain (dispatch_smtp_job_get_capabilities (job)));
      dispatch_smtp_dialogue_quit (job, TRUE, cancellable);
      dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_DONE);
      return dispatch_smtp_job_steal_result (job);
    }

  /* Leave politely where the dialogue allows it, but do not make a cancelling user or a
   * silent server wait for the goodbye. */
  if (dispatch_smtp_connection_is_connected (dispatch_smtp_job_get_connection (job)))
    {
      gboolean wait = !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
                      !g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_TIMEOUT) &&
                      !g_error_matches (local_error, DISPATCH_ERROR, DISPATCH_ERROR_STARTTLS_INJECTION);

      dispatch_smtp_dialogue_quit (job, wait, NULL);
    }

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    /* Translators: a transcript note */
    dispatch_smtp_job_info (job, _("Cancelled"));
  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_FAILED);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static void
worker (GTask        *task,
        gpointer      source_object,
        gpointer      task_data,
        GCancellable *cancellable)
{
  DispatchSmtpJob *job = task_data;
  GError *error = NULL;
  DispatchSmtpResult *result;

  result = run (job, &error);

  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, (GDestroyNotify) dispatch_smtp_result_free);
}

/* The worker task's callback, on the caller's context: first every event still queued, then
 * the caller's own callback — so nobody sees "done" before the last transcript line. */
static void
on_worker_done (GObject      *source_object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DispatchSmtpSession *self = g_task_get_source_object (task);
  DispatchSmtpJob *job = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;
  DispatchSmtpResult *outcome;

  g_assert (source_object == NULL);

  dispatch_smtp_job_finish_events (job);
  self->busy = FALSE;

  outcome = g_task_propagate_pointer (G_TASK (result), &error);
  if (outcome == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, outcome, (GDestroyNotify) dispatch_smtp_result_free);
}

static void
start (DispatchSmtpSession *self,
       gpointer             source_tag,
       DispatchAccount     *account,
       const char          *password,
       const char          *oauth2_token,
       DispatchMessage     *message,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker_task = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  /* Once the server has accepted the message, a Cancel that comes during QUIT must not turn
   * "sent" into "cancelled" (a retry would send it twice): the worker's verdict stands. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               "A send is already running on this session");
      return;
    }
  self->busy = TRUE;

  worker_task = g_task_new (NULL, cancellable, on_worker_done, g_steal_pointer (&task));
  g_task_set_source_tag (worker_task, start);
  g_task_set_check_cancellable (worker_task, FALSE);
  g_task_set_task_data (worker_task,
                        dispatch_smtp_job_new (account, password, oauth2_token, message, cancellable,
                                               G_OBJECT (self), emit_event),
                        (GDestroyNotify) dispatch_smtp_job_unref);
  g_task_run_in_thread (worker_task, worker);
}

void
dispatch_smtp_session_send_async (DispatchSmtpSession *self,
                                  DispatchAccount     *account,
                                  const char          *password,
                                  const char          *oauth2_token,
                                  DispatchMessage     *message,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (DISPATCH_IS_SMTP_SESSION (self));
  g_return_if_fail (DISPATCH_IS_ACCOUNT (account));
  g_return_if_fail (DISPATCH_IS_MESSAGE (message));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, dispatch_smtp_session_send_async, account, password, oauth2_token, message,
         cancellable, callback, user_data);
}

DispatchSmtpResult *
dispatch_smtp_session_send_finish (DispatchSmtpSession  *self,
                                   GAsyncResult         *result,
                                   GError              **error)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_smtp_session_send_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
dispatch_smtp_session_test_async (DispatchSmtpSession *self,
                                  DispatchAccount     *account,
                                  const char          *password,
                                  const char          *oauth2_token,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (DISPATCH_IS_SMTP_SESSION (self));
  g_return_if_fail (DISPATCH_IS_ACCOUNT (account));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (self, dispatch_smtp_session_test_async, account, password, oauth2_token, NULL,
         cancellable, callback, user_data);
}

DispatchSmtpResult *
dispatch_smtp_session_test_finish (DispatchSmtpSession  *self,
                                   GAsyncResult         *result,
                                   GError              **error)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_SESSION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_smtp_session_test_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
