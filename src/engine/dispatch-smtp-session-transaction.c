/* dispatch-smtp-session-transaction.c — the mail transaction: MAIL, RCPT, then DATA or BDAT.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Pipelined when the server offers PIPELINING (RFC 2920), chunked when it offers CHUNKING
 * (RFC 3030), in lock-step otherwise. An AUTH PLAIN may lead the first flight (RFC 4954 §4),
 * but nothing that commits the message leaves before its 235 is read: pipelining saves round
 * trips, it never changes what happens.
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

#include "dispatch-smtp-command.h"
#include "dispatch-smtp-session-private.h"

/* With PIPELINING, a message up to this size goes out in the same flight as its envelope;
 * larger ones wait for the envelope's replies first so a refused envelope costs no upload. */
#define ONE_FLIGHT_MAX     (1024 * 1024)
/* BDAT chunk sizes: pipelined chunks need not be big; lock-step ones pay a round trip each. */
#define CHUNK_PIPELINED    (256 * 1024)
#define CHUNK_LOCKSTEP     (4 * 1024 * 1024)

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
                       dispatch_message_get_envelope_from (job->message));
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

  g_ptr_array_add (dispatch_smtp_reply_get_class (reply) == 2 ? job->result->accepted
                                                               : job->result->refused,
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

  for (guint i = 0; i < job->result->refused->len; i++)
    {
      DispatchSmtpRecipient *r = g_ptr_array_index (job->result->refused, i);

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
read_envelope_replies (DispatchSmtpJob     *job,
                       const char * const  *recipients,
                       GCancellable        *cancellable,
                       GError             **error)
{
  g_autoptr(GError) auth_error = NULL;
  g_autoptr(GError) sender_error = NULL;
  gboolean auth_ok;
  gboolean mail_ok;
  guint code = 0;

  /* A sign-in sent in the same flight answers first; without it the envelope's replies mean
   * little, but they are read all the same. */
  auth_ok = dispatch_smtp_job_finish_auth (job, cancellable, &auth_error);
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
    job->pipelining_refused = TRUE;

  for (guint i = 0; recipients[i] != NULL; i++)
    {
      if (!read_rcpt_reply (job, recipients[i], &code, cancellable, error))
        return FALSE;
      if (code == 503 && mail_ok)
        job->pipelining_refused = TRUE;
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
  if (job->result->accepted->len == 0)
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
  DispatchSmtpBody body = dispatch_message_needs_8bitmime (job->message) ? DISPATCH_SMTP_BODY_8BITMIME
                                                                         : DISPATCH_SMTP_BODY_NONE;
  gboolean declare_size = dispatch_smtp_capabilities_has (job->capabilities, DISPATCH_SMTP_CAPABILITY_SIZE);

  return dispatch_smtp_command_mail_from (dispatch_message_get_envelope_from (job->message),
                                          declare_size ? size : 0, body,
                                          dispatch_message_needs_smtputf8 (job->message), error);
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
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i],
                                                             dispatch_message_needs_smtputf8 (job->message),
                                                             error);

      if (rcpt == NULL || !dispatch_smtp_job_send (job, rcpt, NULL, cancellable, error))
        return FALSE;
      if (!read_rcpt_reply (job, recipients[i], &code, cancellable, error))
        return FALSE;
    }

  if (job->result->accepted->len == 0)
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
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i],
                                                             dispatch_message_needs_smtputf8 (job->message),
                                                             error);

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
                      dispatch_smtp_job_host (job));
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
          guint64 max = dispatch_smtp_capabilities_get_max_size (job->capabilities);
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

  job->result->final_reply = dispatch_smtp_reply_to_string (reply);
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
        job->result->queue_id = g_strndup (start, len);
    }
  return TRUE;
}

/* ─── BDAT framing (RFC 3030): a stream that cuts what is written to it into chunks ────── */

#define DISPATCH_TYPE_BDAT_STREAM (dispatch_bdat_stream_get_type ())
G_DECLARE_FINAL_TYPE (DispatchBdatStream, dispatch_bdat_stream, DISPATCH, BDAT_STREAM, GOutputStream)

struct _DispatchBdatStream
{
  GOutputStream parent_instance;

  DispatchSmtpJob *job;                 /* borrowed */
  GByteArray *chunk;
  gsize chunk_size;
  guint n_chunks;           /* sent and not yet answered */
  gboolean lockstep;        /* wait for each chunk's reply (no PIPELINING) */
  GError *reply_error;      /* a refused chunk, in lock-step mode */
};

G_DEFINE_FINAL_TYPE (DispatchBdatStream, dispatch_bdat_stream, G_TYPE_OUTPUT_STREAM)

static gboolean
bdat_send_chunk (DispatchBdatStream  *self,
                 gboolean             last,
                 GCancellable        *cancellable,
                 GError             **error)
{
  g_autofree char *command = dispatch_smtp_command_bdat (self->chunk->len, last);
  GOutputStream *output = dispatch_smtp_connection_get_output (self->job->connection);

  if (!dispatch_smtp_job_queue (self->job, command, NULL, cancellable, error))
    return FALSE;
  if (!g_output_stream_write_all (output, self->chunk->data, self->chunk->len, NULL, cancellable, error))
    return FALSE;
  self->n_chunks++;
  g_byte_array_set_size (self->chunk, 0);

  if (self->lockstep && !last)
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (self->job, DISPATCH_SMTP_STAGE_DATA,
                                                       cancellable, error);
      if (reply == NULL)
        return FALSE;
      self->n_chunks--;
      if (dispatch_smtp_reply_get_class (reply) != 2)
        {
          check_final_reply (self->job, reply, &self->reply_error);
          /* Past a refused chunk the server is out of the transaction: QUIT is understood. */
          self->job->can_quit = TRUE;
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, self->reply_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static gssize
dispatch_bdat_stream_write (GOutputStream  *stream,
                            const void     *buffer,
                            gsize           count,
                            GCancellable   *cancellable,
                            GError        **error)
{
  DispatchBdatStream *self = DISPATCH_BDAT_STREAM (stream);
  gsize n = MIN (count, self->chunk_size - self->chunk->len);

  g_byte_array_append (self->chunk, buffer, n);
  if (self->chunk->len == self->chunk_size && !bdat_send_chunk (self, FALSE, cancellable, error))
    return -1;
  return n;
}

static void
dispatch_bdat_stream_finalize (GObject *object)
{
  DispatchBdatStream *self = DISPATCH_BDAT_STREAM (object);

  g_byte_array_unref (self->chunk);
  g_clear_error (&self->reply_error);
  G_OBJECT_CLASS (dispatch_bdat_stream_parent_class)->finalize (object);
}

static void
dispatch_bdat_stream_class_init (DispatchBdatStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dispatch_bdat_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = dispatch_bdat_stream_write;
}

static void
dispatch_bdat_stream_init (DispatchBdatStream *self)
{
  self->chunk = g_byte_array_new ();
}

/* After the end of the data, QUIT may join the same flight (RFC 2920 §3.1). */
static gboolean
queue_quit (DispatchSmtpJob  *job,
            GCancellable     *cancellable,
            GError          **error)
{
  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_QUITTING);
  if (!dispatch_smtp_job_queue (job, DISPATCH_SMTP_COMMAND_QUIT, NULL, cancellable, error))
    return FALSE;
  job->quit_sent = TRUE;
  return TRUE;
}

static gboolean
write_message (DispatchSmtpJob  *job,
               GOutputStream    *stream,
               gboolean          dot_stuff,
               GCancellable     *cancellable,
               GError          **error)
{
  g_autofree char *size_text = g_format_size_full (job->total, G_FORMAT_SIZE_LONG_FORMAT);
  g_autoptr(GError) local_error = NULL;

  dispatch_smtp_job_info (job, "(message data: %s)", size_text);
  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_SENDING_DATA);
  dispatch_smtp_job_progress (job, 0);

  /* From the first byte of data to its terminator, nothing else can be said on this
   * connection; a failure in between leaves only closing it. */
  job->can_quit = FALSE;
  if (!dispatch_message_write (job->message, stream, dot_stuff, on_message_progress, job,
                               cancellable, &local_error))
    {
      if (local_error->domain == G_IO_ERROR && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        dispatch_smtp_connection_propagate_io_error (job->connection, error, g_steal_pointer (&local_error),
                                                     DISPATCH_SMTP_STAGE_DATA);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* MAIL, RCPT…, DATA, message, "." — pipelined or in lock-step. */
static gboolean
transfer_with_data (DispatchSmtpJob     *job,
                    gboolean             pipelining,
                    const char * const  *recipients,
                    GCancellable        *cancellable,
                    GError             **error)
{
  g_autoptr(DispatchSmtpReply) go_ahead = NULL;
  g_autoptr(DispatchSmtpReply) final = NULL;
  g_autoptr(GError) envelope_error = NULL;

  if (pipelining)
    {
      /* RFC 2920 §3.1: DATA may end the group; its reply tells whether to send the data. */
      if (!queue_envelope (job, job->total, recipients, cancellable, error) ||
          !dispatch_smtp_job_queue (job, DISPATCH_SMTP_COMMAND_DATA, NULL, cancellable, error))
        return FALSE;
      if (!read_envelope_replies (job, recipients, cancellable, &envelope_error) &&
          !is_refusal (envelope_error))
        {
          g_propagate_error (error, g_steal_pointer (&envelope_error));
          return FALSE;
        }
      /* Some recipients lost to the server's objection: the message waits for the retry. */
      if (envelope_error == NULL && job->pipelining_refused)
        set_pipelining_error (job, &envelope_error);
    }
  else
    {
      if (!lockstep_envelope (job, job->total, recipients, cancellable, error) ||
          !dispatch_smtp_job_send (job, DISPATCH_SMTP_COMMAND_DATA, NULL, cancellable, error))
        return FALSE;
    }

  go_ahead = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);
  if (go_ahead == NULL)
    return FALSE;

  if (pipelining && envelope_error == NULL && dispatch_smtp_reply_get_code (go_ahead) == 503)
    {
      job->pipelining_refused = TRUE;
      set_pipelining_error (job, error);
      return FALSE;
    }

  if (envelope_error != NULL)
    {
      /* A server that says 354 although nobody was accepted gets an empty message, which it
       * must refuse (RFC 2920 §3.1); then we report the envelope's failure. One that accepted
       * recipients after a refused sign-in would deliver that empty message: hanging up
       * aborts the transaction instead (RFC 5321 §3.8). */
      if (dispatch_smtp_reply_get_code (go_ahead) == 354 && job->result->accepted->len > 0)
        job->can_quit = FALSE;
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

  if (!write_message (job, dispatch_smtp_connection_get_output (job->connection), TRUE, cancellable, error))
    return FALSE;
  if (!dispatch_smtp_job_queue (job, DISPATCH_SMTP_DATA_END, NULL, cancellable, error))
    return FALSE;
  job->can_quit = TRUE;
  dispatch_smtp_job_progress (job, job->total);

  if (pipelining && !queue_quit (job, cancellable, error))
    return FALSE;

  final = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);
  if (final == NULL)
    return FALSE;
  return check_final_reply (job, final, error);
}

/* MAIL, RCPT…, BDAT n, …, BDAT n LAST (RFC 3030): no dot-stuffing, and with PIPELINING a small
 * message leaves in the same flight as its envelope and the QUIT. */
static gboolean
transfer_with_bdat (DispatchSmtpJob     *job,
                    gboolean             pipelining,
                    const char * const  *recipients,
                    GCancellable        *cancellable,
                    GError             **error)
{
  g_autoptr(DispatchBdatStream) bdat = NULL;
  g_autoptr(GError) envelope_error = NULL;
  g_autoptr(GError) data_error = NULL;
  g_autoptr(DispatchSmtpReply) final = NULL;
  /* BDAT … LAST commits the message: it never leaves before the sign-in's 235 is read. */
  gboolean one_flight = pipelining && job->total <= ONE_FLIGHT_MAX && job->auth_pending == NULL;
  g_autoptr(GError) write_error = NULL;

  if (!pipelining)
    {
      if (!lockstep_envelope (job, job->total, recipients, cancellable, error))
        return FALSE;
    }
  else
    {
      if (!queue_envelope (job, job->total, recipients, cancellable, error))
        return FALSE;
      /* A big upload waits for the envelope's verdict: one round trip is cheap next to
       * sending megabytes nobody will take. So does any message behind a sign-in. */
      if (!one_flight && !read_envelope_replies (job, recipients, cancellable, error))
        return FALSE;
      if (!one_flight && job->pipelining_refused)
        {
          set_pipelining_error (job, error);
          return FALSE;
        }
    }

  bdat = g_object_new (DISPATCH_TYPE_BDAT_STREAM, NULL);
  bdat->job = job;
  bdat->chunk_size = pipelining ? CHUNK_PIPELINED : CHUNK_LOCKSTEP;
  bdat->lockstep = !pipelining;

  if (!write_message (job, G_OUTPUT_STREAM (bdat), FALSE, cancellable, &write_error) ||
      !bdat_send_chunk (bdat, TRUE, cancellable, &write_error))
    {
      if (bdat->reply_error != NULL)
        g_propagate_error (error, g_steal_pointer (&bdat->reply_error));
      else
        g_propagate_error (error, g_steal_pointer (&write_error));
      return FALSE;
    }
  job->can_quit = TRUE;
  dispatch_smtp_job_progress (job, job->total);

  if (pipelining && !queue_quit (job, cancellable, error))
    return FALSE;

  if (one_flight &&
      !read_envelope_replies (job, recipients, cancellable, &envelope_error) &&
      !is_refusal (envelope_error))
    {
      g_propagate_error (error, g_steal_pointer (&envelope_error));
      return FALSE;
    }

  /* One reply per chunk still unanswered; the last one is the verdict on the message. */
  for (guint i = 0; i < bdat->n_chunks; i++)
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_DATA, cancellable, error);

      if (reply == NULL)
        return FALSE;
      if (pipelining && dispatch_smtp_reply_get_code (reply) == 503 && envelope_error == NULL &&
          job->result->accepted->len > 0)
        job->pipelining_refused = TRUE;
      if (i + 1 < bdat->n_chunks)
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

gboolean
dispatch_smtp_job_transaction (DispatchSmtpJob  *job,
                               GCancellable     *cancellable,
                               GError          **error)
{
  DispatchSmtpCapabilities *caps = job->capabilities;
  gboolean pipelining = !job->lockstep && dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_PIPELINING);
  gboolean chunking = dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_CHUNKING);
  guint64 max_size = dispatch_smtp_capabilities_get_max_size (caps);
  g_autoptr(GError) size_error = NULL;
  const char * const *recipients;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_SENDING_ENVELOPE);

  /* Built now that we know whether the server takes 8-bit text and UTF-8 addresses. */
  if (!dispatch_message_prepare (job->message,
                                 dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_8BITMIME),
                                 dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_SMTPUTF8),
                                 cancellable, error))
    return FALSE;

  job->total = dispatch_message_get_size (job->message, cancellable, &size_error);
  if (size_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&size_error));
      return FALSE;
    }

  /* RFC 1870: refusing up front costs nothing; uploading 25 MB to hear 552 costs minutes. */
  if (max_size > 0 && job->total > max_size)
    {
      g_autofree char *have = g_format_size (job->total);
      g_autofree char *limit = g_format_size (max_size);
      g_autofree char *hint = g_strdup_printf (_("The server accepts messages up to %s; send smaller "
                                                 "or fewer attachments."), limit);

      dispatch_set_error (error, DISPATCH_ERROR_MESSAGE_TOO_LARGE, DISPATCH_SMTP_STAGE_SENDER, NULL, hint,
                          /* Translators: both %s are sizes like "30.2 MB" */
                          _("The message (%s) is larger than the server accepts (%s); nothing was sent."),
                          have, limit);
      return FALSE;
    }

  recipients = dispatch_message_get_envelope_recipients (job->message);
  job->result->used_pipelining = pipelining;
  job->result->used_chunking = chunking;

  if (chunking)
    {
      if (!transfer_with_bdat (job, pipelining, recipients, cancellable, error))
        return FALSE;
    }
  else if (!transfer_with_data (job, pipelining, recipients, cancellable, error))
    return FALSE;

  job->result->bytes_sent = job->total;
  return TRUE;
}
