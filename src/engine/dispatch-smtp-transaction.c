/* dispatch-smtp-transaction.c — the mail transaction, and the whole pipelining policy.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MAIL, RCPT, then DATA or BDAT: pipelined when the server offers PIPELINING (RFC 2920),
 * chunked when it offers CHUNKING (RFC 3030), in lock-step otherwise. Every decision about what
 * may leave before which reply is made in this file:
 *
 * - An AUTH that completes at once (PLAIN with an initial response) may lead the first flight
 *   (RFC 4954 §4), but nothing that commits the message — BDAT … LAST, the data after 354 —
 *   leaves before its 235 is read: pipelining saves round trips, it never changes what happens.
 * - A server that answers 503 to a command sent ahead of its turn objects to the pipelining
 *   itself; nothing is delivered, and the session is asked to do the send again in lock-step.
 *
 *   C: [AUTH PLAIN …]  C: MAIL FROM:<a> SIZE=n  C: RCPT TO:<b> …  C: DATA    S: [235] 250 … 354
 *   C: message, dot-stuffed   C: .   C: QUIT                                 S: 250 queued as X, 221
 * or, signed in the same flight
 *   C: AUTH PLAIN …  C: MAIL …  C: RCPT …                                    S: 235 250 … 250
 *   C: BDAT n LAST + message  C: QUIT                                        S: 250 queued as X, 221
 * or, without AUTH in the flight
 *   C: MAIL …  C: RCPT …  C: BDAT n LAST + message  C: QUIT                 S: 250 … 250 … 221
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "dispatch-smtp-bdat-stream.h"
#include "dispatch-smtp-command.h"
#include "dispatch-smtp-dialogue.h"
#include "dispatch-smtp-transaction.h"

/* With PIPELINING, a message up to this size goes out in the same flight as its envelope;
 * larger ones wait for the envelope's replies first so a refused envelope costs no upload. */
#define ONE_FLIGHT_MAX     (1024 * 1024)
/* BDAT chunk sizes: pipelined chunks need not be big; lock-step ones pay a round trip each. */
#define CHUNK_PIPELINED    (256 * 1024)
#define CHUNK_LOCKSTEP     (4 * 1024 * 1024)

struct _DispatchSmtpTransaction
{
  DispatchSmtpJob    *job;
  /* An AUTH sent ahead of the envelope whose reply is still to be read. */
  DispatchSmtpSignIn *auth_pending;
  /* A server that answered 503 to a command sent ahead of its turn (after a success, so not
   * for a reason of its own): the send is done again, one command at a time. */
  gboolean            pipelining_refused;
  gboolean            lockstep;
};

DispatchSmtpTransaction *
dispatch_smtp_transaction_new (DispatchSmtpJob *job)
{
  DispatchSmtpTransaction *tx = g_new0 (DispatchSmtpTransaction, 1);

  tx->job = dispatch_smtp_job_ref (job);
  return tx;
}

void
dispatch_smtp_transaction_free (DispatchSmtpTransaction *tx)
{
  if (tx == NULL)
    return;

  g_clear_pointer (&tx->auth_pending, dispatch_smtp_sign_in_free);
  g_clear_pointer (&tx->job, dispatch_smtp_job_unref);
  g_free (tx);
}

static void
on_message_progress (guint64  written,
                     gpointer user_data)
{
  dispatch_smtp_job_progress (user_data, written);
}

static gboolean
read_mail_reply (DispatchSmtpJob  *job,
                 guint            *code,
                 GCancellable     *cancellable,
                 GError          **error)
{
  g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_SENDER, cancellable, error);

  if (reply == NULL)
    return FALSE;
  *code = dispatch_smtp_reply_get_code (reply);
  if (dispatch_smtp_reply_get_class (reply) != 2)
    {
      dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_SENDER, DISPATCH_ERROR_SENDER_REFUSED,
                       _("Use the address that belongs to the account you sign in with, or check "
                         "that sign-in is set up."),
                       /* Translators: %s is an e-mail address */
                       _("The server refused the sender address %s."),
                       dispatch_message_get_envelope_from (dispatch_smtp_job_get_message (job)));
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_rcpt_reply (DispatchSmtpJob  *job,
                 const char       *address,
                 guint            *code,
                 GCancellable     *cancellable,
                 GError          **error)
{
  g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_RECIPIENT, cancellable, error);
  g_autofree char *text = NULL;

  if (reply == NULL)
    return FALSE;
  *code = dispatch_smtp_reply_get_code (reply);

  text = dispatch_smtp_reply_to_string (reply);
  dispatch_smtp_job_recipient (job, address, dispatch_smtp_reply_get_code (reply), text);

  g_ptr_array_add (dispatch_smtp_reply_get_class (reply) == 2 ? dispatch_smtp_job_get_result (job)->accepted
                                                               : dispatch_smtp_job_get_result (job)->refused,
                   dispatch_smtp_recipient_new (address, dispatch_smtp_reply_get_code (reply), text));
  return TRUE;
}

/* Every recipient refused: say who and why. */
static void
set_recipients_error (DispatchSmtpJob  *job,
                      GError          **error)
{
  g_autoptr(GString) replies = g_string_new (NULL);
  gboolean all_transient = TRUE;

  for (guint i = 0; i < dispatch_smtp_job_get_result (job)->refused->len; i++)
    {
      DispatchSmtpRecipient *r = g_ptr_array_index (dispatch_smtp_job_get_result (job)->refused, i);

      g_string_append_printf (replies, "%s%s: %s", i ? "\n" : "", r->address, r->reply);
      all_transient = all_transient && r->code / 100 == 4;
    }
  dispatch_set_error (error,
                      all_transient ? DISPATCH_ERROR_TEMPORARY : DISPATCH_ERROR_RECIPIENTS_REFUSED,
                      DISPATCH_SMTP_STAGE_RECIPIENT, replies->str,
                      all_transient ? _("Try again in a few minutes.")
                                    : _("Check the addresses for typing errors. A server that "
                                        "refuses every recipient may also want you to sign in."),
                      _("The server refused every recipient; nothing was sent."));
}

/* A refusal by the server, as opposed to a broken dialogue: with pipelining the replies to what
 * was already sent must still be read before saying so. */
static gboolean
is_refusal (const GError *error)
{
  return g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED) ||
         g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_SENDER_REFUSED) ||
         g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_RECIPIENTS_REFUSED) ||
         g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_TEMPORARY);
}

/* The replies to a pipelined AUTH, MAIL and RCPTs. All of them are read even after a failure,
 * so the dialogue stays in step; the first failure is what the user hears about. */
static gboolean
read_envelope_replies (DispatchSmtpTransaction  *tx,
                       const char * const       *recipients,
                       GCancellable             *cancellable,
                       GError                  **error)
{
  DispatchSmtpJob *job = tx->job;
  g_autoptr(DispatchSmtpSignIn) sign_in = g_steal_pointer (&tx->auth_pending);
  g_autoptr(GError) auth_error = NULL;
  g_autoptr(GError) sender_error = NULL;
  gboolean auth_ok;
  gboolean mail_ok;
  guint code = 0;

  /* A sign-in sent in the same flight answers first; without it the envelope's replies mean
   * little, but they are read all the same. */
  auth_ok = sign_in == NULL || dispatch_smtp_dialogue_finish_sign_in (job, sign_in, cancellable, &auth_error);
  if (!auth_ok && !is_refusal (auth_error))
    {
      g_propagate_error (error, g_steal_pointer (&auth_error));
      return FALSE;
    }

  mail_ok = read_mail_reply (job, &code, cancellable, &sender_error);
  if (!mail_ok &&
      !g_error_matches (sender_error, DISPATCH_ERROR, DISPATCH_ERROR_SENDER_REFUSED) &&
      !g_error_matches (sender_error, DISPATCH_ERROR, DISPATCH_ERROR_TEMPORARY))
    {
      g_propagate_error (error, g_steal_pointer (&sender_error));
      return FALSE;
    }
  /* "Bad sequence" right after a success is the server objecting to the pipelining itself. */
  if (!mail_ok && code == 503 && auth_ok)
    tx->pipelining_refused = TRUE;

  for (guint i = 0; recipients[i] != NULL; i++)
    {
      if (!read_rcpt_reply (job, recipients[i], &code, cancellable, error))
        return FALSE;
      if (code == 503 && mail_ok)
        tx->pipelining_refused = TRUE;
    }

  if (auth_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&auth_error));
      return FALSE;
    }
  if (sender_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&sender_error));
      return FALSE;
    }
  if (dispatch_smtp_job_get_result (job)->accepted->len == 0)
    {
      set_recipients_error (job, error);
      return FALSE;
    }
  return TRUE;
}

static char *
build_mail_command (DispatchSmtpJob  *job,
                    guint64           size,
                    GError          **error)
{
  DispatchMessage *message = dispatch_smtp_job_get_message (job);
  DispatchSmtpBody body = dispatch_message_needs_8bitmime (message) ? DISPATCH_SMTP_BODY_8BITMIME
                                                                    : DISPATCH_SMTP_BODY_NONE;
  gboolean declare_size = dispatch_smtp_capabilities_has (dispatch_smtp_job_get_capabilities (job),
                                                          DISPATCH_SMTP_CAPABILITY_SIZE);

  return dispatch_smtp_command_mail_from (dispatch_message_get_envelope_from (message),
                                          declare_size ? size : 0, body,
                                          dispatch_message_needs_smtputf8 (message), error);
}

/* Without PIPELINING: one command, one reply (RFC 5321 §4.1.1). */
static gboolean
lockstep_envelope (DispatchSmtpJob     *job,
                   guint64              size,
                   const char * const  *recipients,
                   GCancellable        *cancellable,
                   GError             **error)
{
  g_autofree char *mail = build_mail_command (job, size, error);
  guint code;

  if (mail == NULL || !dispatch_smtp_job_send (job, mail, NULL, cancellable, error))
    return FALSE;
  if (!read_mail_reply (job, &code, cancellable, error))
    return FALSE;

  for (guint i = 0; recipients[i] != NULL; i++)
    {
      gboolean utf8 = dispatch_message_needs_smtputf8 (dispatch_smtp_job_get_message (job));
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i], utf8, error);

      if (rcpt == NULL || !dispatch_smtp_job_send (job, rcpt, NULL, cancellable, error))
        return FALSE;
      if (!read_rcpt_reply (job, recipients[i], &code, cancellable, error))
        return FALSE;
    }

  if (dispatch_smtp_job_get_result (job)->accepted->len == 0)
    {
      set_recipients_error (job, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
queue_envelope (DispatchSmtpJob     *job,
                guint64              size,
                const char * const  *recipients,
                GCancellable        *cancellable,
                GError             **error)
{
  g_autofree char *mail = build_mail_command (job, size, error);

  if (mail == NULL || !dispatch_smtp_job_queue (job, mail, NULL, cancellable, error))
    return FALSE;

  for (guint i = 0; recipients[i] != NULL; i++)
    {
      gboolean utf8 = dispatch_message_needs_smtputf8 (dispatch_smtp_job_get_message (job));
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i], utf8, error);

      if (rcpt == NULL || !dispatch_smtp_job_queue (job, rcpt, NULL, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* Stands for the outcome while the transaction is done again in lock-step; the user sees it
 * only when the retry cannot happen. */
static void
set_pipelining_error (DispatchSmtpJob  *job,
                      GError          **error)
{
  dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_RECIPIENT, NULL, NULL,
                      /* Translators: %s is a server name */
                      _("%s refused commands sent together (PIPELINING) although it offers that."),
                      dispatch_smtp_job_get_host (job));
}

/* The reply to the end of the data: "250 … queued as X", or the reason for refusal. */
static gboolean
check_final_reply (DispatchSmtpJob    *job,
                   DispatchSmtpReply  *reply,
                   GError            **error)
{
  g_autofree char *text = NULL;
  const char *queued;

  if (dispatch_smtp_reply_get_class (reply) != 2)
    {
      if (dispatch_smtp_reply_get_code (reply) == 552)
        {
          guint64 max = dispatch_smtp_capabilities_get_max_size (dispatch_smtp_job_get_capabilities (job));
          g_autofree char *limit = max > 0 ? g_format_size (max) : NULL;
          g_autofree char *hint = limit ? g_strdup_printf (_("The server accepts messages up to %s; "
                                                             "send smaller or fewer attachments."), limit)
                                        : g_strdup (_("Send smaller or fewer attachments."));

          dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_DATA, DISPATCH_ERROR_MESSAGE_TOO_LARGE,
                           hint, _("The server refused the message as too large."));
        }
      else
        dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_DATA, DISPATCH_ERROR_MESSAGE_REFUSED,
                         _("The server's reply says why; the message may look like spam or break "
                           "a rule of the server."),
                         _("The server refused the message."));
      return FALSE;
    }

  dispatch_smtp_job_get_result (job)->final_reply = dispatch_smtp_reply_to_string (reply);
  text = dispatch_smtp_reply_get_text (reply);
  queued = strstr (text, "queued as ");
  if (queued == NULL)
    queued = strstr (text, "Queued as ");
  if (queued != NULL)
    {
      const char *start = queued + strlen ("queued as ");
      gsize len = strcspn (start, " \t;,)");

      /* Postfix ends with the bare id; others wrap or punctuate it. */
      while (len > 0 && (start[len - 1] == '.' || start[len - 1] == ']'))
        len--;
      if (len > 0)
        dispatch_smtp_job_get_result (job)->queue_id = g_strndup (start, len);
    }
  return TRUE;
}

static gboolean
write_message (DispatchSmtpJob  *job,
               GOutputStream    *stream,
               gboolean          dot_stuff,
               GCancellable     *cancellable,
               GError          **error)
{
  g_autofree char *size_text = g_format_size_full (dispatch_smtp_job_get_total (job), G_FORMAT_SIZE_LONG_FORMAT);
  g_autoptr(GError) local_error = NULL;

  /* Translators: a transcript note: "(message data: 1.9 kB (1903 bytes))" */
  dispatch_smtp_job_info (job, _("(message data: %s)"), size_text);
  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_SENDING_DATA);
  dispatch_smtp_job_progress (job, 0);

  /* From the first byte of data to its terminator, nothing else can be said on this
   * connection; a failure in between leaves only closing it. */
  dispatch_smtp_job_set_can_quit (job, FALSE);
  if (!dispatch_message_write (dispatch_smtp_job_get_message (job), stream, dot_stuff, on_message_progress, job,
                               cancellable, &local_error))
    {
      if (local_error->domain == G_IO_ERROR && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        dispatch_smtp_connection_propagate_io_error (dispatch_smtp_job_get_connection (job), error,
                                                     g_steal_pointer (&local_error),
                                                     DISPATCH_SMTP_STAGE_DATA);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* MAIL, RCPT…, DATA, message, "." — pipelined or in lock-step. */
static gboolean
transfer_with_data (DispatchSmtpTransaction  *tx,
                    gboolean                  pipelining,
                    const char * const       *recipients,
                    GCancellable             *cancellable,
                    GError                  **error)
{
  DispatchSmtpJob *job = tx->job;
  g_autoptr(DispatchSmtpReply) go_ahead = NULL;
  g_autoptr(DispatchSmtpReply) final = NULL;
  g_autoptr(GError) envelope_error = NULL;

  if (pipelining)
    {
      /* RFC 2920 §3.1: DATA may end the group; its reply tells whether to send the data. */
      if (!queue_envelope (job, dispatch_smtp_job_get_total (job), recipients, cancellable, error) ||
          !dispatch_smtp_job_queue (job, DISPATCH_SMTP_COMMAND_DATA, NULL, cancellable, error))
        return FALSE;
      if (!read_envelope_replies (tx, recipients, cancellable, &envelope_error) &&
          !is_refusal (envelope_error))
        {
          g_propagate_error (error, g_steal_pointer (&envelope_error));
          return FALSE;
        }
      /* Some recipients lost to the server's objection: the message waits for the retry. */
      if (envelope_error == NULL && tx->pipelining_refused)
        set_pipelining_error (tx->job, &envelope_error);
    }
  else
    {
      if (!lockstep_envelope (job, dispatch_smtp_job_get_total (job), recipients, cancellable, error) ||
          !dispatch_smtp_job_send (job, DISPATCH_SMTP_COMMAND_DATA, NULL, cancellable, error))
        return FALSE;
    }

  go_ahead = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);
  if (go_ahead == NULL)
    return FALSE;

  if (pipelining && envelope_error == NULL && dispatch_smtp_reply_get_code (go_ahead) == 503)
    {
      tx->pipelining_refused = TRUE;
      set_pipelining_error (tx->job, error);
      return FALSE;
    }

  if (envelope_error != NULL)
    {
      /* A server that says 354 although nobody was accepted gets an empty message, which it
       * must refuse (RFC 2920 §3.1); then we report the envelope's failure. One that accepted
       * recipients after a refused sign-in would deliver that empty message: hanging up
       * aborts the transaction instead (RFC 5321 §3.8). */
      if (dispatch_smtp_reply_get_code (go_ahead) == 354 && dispatch_smtp_job_get_result (job)->accepted->len > 0)
        dispatch_smtp_job_set_can_quit (job, FALSE);
      else if (dispatch_smtp_reply_get_code (go_ahead) == 354)
        {
          g_autoptr(DispatchSmtpReply) ignored = NULL;

          if (dispatch_smtp_job_send (job, DISPATCH_SMTP_DATA_END, NULL, cancellable, NULL))
            ignored = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, NULL);
        }
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }

  if (dispatch_smtp_reply_get_code (go_ahead) != 354)
    {
      dispatch_smtp_job_set_reply_error (error, go_ahead, DISPATCH_SMTP_STAGE_DATA, DISPATCH_ERROR_MESSAGE_REFUSED, NULL,
                       _("The server refused to take the message (DATA)."));
      return FALSE;
    }

  if (!write_message (job, dispatch_smtp_connection_get_output (dispatch_smtp_job_get_connection (job)), TRUE,
                      cancellable, error))
    return FALSE;
  if (!dispatch_smtp_job_queue (job, DISPATCH_SMTP_DATA_END, NULL, cancellable, error))
    return FALSE;
  dispatch_smtp_job_set_can_quit (job, TRUE);
  dispatch_smtp_job_progress (job, dispatch_smtp_job_get_total (job));

  if (pipelining && !dispatch_smtp_dialogue_queue_quit (job, cancellable, error))
    return FALSE;

  final = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);
  if (final == NULL)
    return FALSE;
  return check_final_reply (job, final, error);
}

/* MAIL, RCPT…, BDAT n, …, BDAT n LAST (RFC 3030): no dot-stuffing, and with PIPELINING a small
 * message leaves in the same flight as its envelope and the QUIT. */
static gboolean
transfer_with_bdat (DispatchSmtpTransaction  *tx,
                    gboolean                  pipelining,
                    const char * const       *recipients,
                    GCancellable             *cancellable,
                    GError                  **error)
{
  DispatchSmtpJob *job = tx->job;
  g_autoptr(DispatchSmtpBdatStream) bdat = NULL;
  g_autoptr(GError) envelope_error = NULL;
  g_autoptr(GError) data_error = NULL;
  g_autoptr(DispatchSmtpReply) final = NULL;
  /* BDAT … LAST commits the message: it never leaves before the sign-in's 235 is read. */
  gboolean one_flight = pipelining && dispatch_smtp_job_get_total (job) <= ONE_FLIGHT_MAX && tx->auth_pending == NULL;
  g_autoptr(GError) write_error = NULL;
  guint n_awaited;

  if (!pipelining)
    {
      if (!lockstep_envelope (job, dispatch_smtp_job_get_total (job), recipients, cancellable, error))
        return FALSE;
    }
  else
    {
      if (!queue_envelope (job, dispatch_smtp_job_get_total (job), recipients, cancellable, error))
        return FALSE;
      /* A big upload waits for the envelope's verdict: one round trip is cheap next to
       * sending megabytes nobody will take. So does any message behind a sign-in. */
      if (!one_flight && !read_envelope_replies (tx, recipients, cancellable, error))
        return FALSE;
      if (!one_flight && tx->pipelining_refused)
        {
          set_pipelining_error (tx->job, error);
          return FALSE;
        }
    }

  bdat = dispatch_smtp_bdat_stream_new (job, pipelining ? CHUNK_PIPELINED : CHUNK_LOCKSTEP, !pipelining);

  if (!write_message (job, G_OUTPUT_STREAM (bdat), FALSE, cancellable, &write_error) ||
      !dispatch_smtp_bdat_stream_send_last (bdat, cancellable, &write_error))
    {
      if (dispatch_smtp_bdat_stream_get_refusal (bdat) != NULL)
        check_final_reply (job, dispatch_smtp_bdat_stream_get_refusal (bdat), error);
      else
        g_propagate_error (error, g_steal_pointer (&write_error));
      return FALSE;
    }
  dispatch_smtp_job_set_can_quit (job, TRUE);
  dispatch_smtp_job_progress (job, dispatch_smtp_job_get_total (job));

  if (pipelining && !dispatch_smtp_dialogue_queue_quit (job, cancellable, error))
    return FALSE;

  if (one_flight &&
      !read_envelope_replies (tx, recipients, cancellable, &envelope_error) &&
      !is_refusal (envelope_error))
    {
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }

  /* One reply per chunk still unanswered; the last one is the verdict on the message. */
  n_awaited = dispatch_smtp_bdat_stream_get_n_awaited (bdat);
  for (guint i = 0; i < n_awaited; i++)
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);

      if (reply == NULL)
        return FALSE;
      if (pipelining && dispatch_smtp_reply_get_code (reply) == 503 && envelope_error == NULL &&
          dispatch_smtp_job_get_result (job)->accepted->len > 0)
        tx->pipelining_refused = TRUE;
      if (i + 1 < n_awaited)
        {
          if (dispatch_smtp_reply_get_class (reply) != 2 && data_error == NULL && envelope_error == NULL)
            check_final_reply (job, reply, &data_error);
        }
      else
        final = g_steal_pointer (&reply);
    }

  if (envelope_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }
  if (data_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&data_error));
      return FALSE;
    }
  return check_final_reply (job, final, error);
}

/* With PIPELINING, an AUTH that completes in one reply need not wait for it: the transaction
 * follows in the same flight and reads the reply first. Any other sign-in is done in lock-step
 * before the transaction starts. */
static gboolean
start_sign_in (DispatchSmtpTransaction  *tx,
               DispatchSmtpSignIn       *sign_in,
               gboolean                  pipelining,
               GCancellable             *cancellable,
               GError                  **error)
{
  g_autoptr(DispatchSmtpSignIn) owned = sign_in;

  if (pipelining && dispatch_smtp_sign_in_completes_at_once (sign_in))
    {
      if (!dispatch_smtp_dialogue_queue_sign_in (tx->job, sign_in, cancellable, error))
        return FALSE;
      tx->auth_pending = g_steal_pointer (&owned);
      return TRUE;
    }
  return dispatch_smtp_dialogue_sign_in (tx->job, sign_in, cancellable, error);
}

gboolean
dispatch_smtp_transaction_run (DispatchSmtpTransaction  *tx,
                               DispatchSmtpSignIn       *sign_in,
                               GError                  **error)
{
  DispatchSmtpJob *job = tx->job;
  GCancellable *cancellable = dispatch_smtp_job_get_cancellable (job);
  DispatchSmtpCapabilities *caps = dispatch_smtp_job_get_capabilities (job);
  gboolean pipelining = !tx->lockstep && dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_PIPELINING);
  gboolean chunking = dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_CHUNKING);
  guint64 max_size = dispatch_smtp_capabilities_get_max_size (caps);
  g_autoptr(GError) size_error = NULL;
  const char * const *recipients;
  guint64 total;

  if (sign_in != NULL && !start_sign_in (tx, sign_in, pipelining, cancellable, error))
    return FALSE;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_SENDING_ENVELOPE);

  /* Built now that we know whether the server takes 8-bit text and UTF-8 addresses. */
  if (!dispatch_message_prepare (dispatch_smtp_job_get_message (job),
                                 dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_8BITMIME),
                                 dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_SMTPUTF8),
                                 cancellable, error))
    return FALSE;

  total = dispatch_message_get_size (dispatch_smtp_job_get_message (job), cancellable, &size_error);
  if (size_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&size_error));
      return FALSE;
    }
  dispatch_smtp_job_set_total (job, total);

  /* RFC 1870: refusing up front costs nothing; uploading 25 MB to hear 552 costs minutes. */
  if (max_size > 0 && dispatch_smtp_job_get_total (job) > max_size)
    {
      g_autofree char *have = g_format_size (dispatch_smtp_job_get_total (job));
      g_autofree char *limit = g_format_size (max_size);
      g_autofree char *hint = g_strdup_printf (_("The server accepts messages up to %s; send smaller "
                                                 "or fewer attachments."), limit);

      dispatch_set_error (error, DISPATCH_ERROR_MESSAGE_TOO_LARGE, DISPATCH_SMTP_STAGE_SENDER, NULL, hint,
                          /* Translators: both %s are sizes like "30.2 MB" */
                          _("The message (%s) is larger than the server accepts (%s); nothing was sent."),
                          have, limit);
      return FALSE;
    }

  recipients = dispatch_message_get_envelope_recipients (dispatch_smtp_job_get_message (job));
  dispatch_smtp_job_get_result (job)->used_pipelining = pipelining;
  dispatch_smtp_job_get_result (job)->used_chunking = chunking;

  if (chunking)
    {
      if (!transfer_with_bdat (tx, pipelining, recipients, cancellable, error))
        return FALSE;
    }
  else if (!transfer_with_data (tx, pipelining, recipients, cancellable, error))
    return FALSE;

  dispatch_smtp_job_get_result (job)->bytes_sent = dispatch_smtp_job_get_total (job);
  return TRUE;
}

gboolean
dispatch_smtp_transaction_should_retry (DispatchSmtpTransaction *tx,
                                        const GError            *error)
{
  /* A server stricter than RFC 2920 refused commands sent together; nothing was delivered.
   * The same send in lock-step is what the user asked for, so it is done at once — once. */
  if (!tx->pipelining_refused || tx->lockstep || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;

  dispatch_smtp_job_info (tx->job, "The server refused commands sent together (PIPELINING); "
                                   "sending again one command at a time");
  g_clear_pointer (&tx->auth_pending, dispatch_smtp_sign_in_free);
  tx->lockstep = TRUE;
  return TRUE;
}
