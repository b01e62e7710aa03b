/* dispatch-smtp-bdat-stream.c — a stream that frames what is written to it as BDAT chunks.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "dispatch-smtp-bdat-stream.h"
#include "dispatch-smtp-command.h"

struct _DispatchSmtpBdatStream
{
  GOutputStream parent_instance;

  DispatchSmtpJob *job;               /* borrowed */
  GByteArray *chunk;
  gsize chunk_size;
  guint n_awaited;                    /* chunks sent and not yet answered */
  gboolean lockstep;                  /* wait for each chunk's reply (no PIPELINING) */
  DispatchSmtpReply *refusal;         /* a refused chunk, in lock-step */
};

G_DEFINE_FINAL_TYPE (DispatchSmtpBdatStream, dispatch_smtp_bdat_stream, G_TYPE_OUTPUT_STREAM)

static gboolean
send_chunk (DispatchSmtpBdatStream  *self,
            gboolean                 last,
            GCancellable            *cancellable,
            GError                 **error)
{
  g_autofree char *command = dispatch_smtp_command_bdat (self->chunk->len, last);
  GOutputStream *output = dispatch_smtp_connection_get_output (dispatch_smtp_job_get_connection (self->job));

  if (!dispatch_smtp_job_queue (self->job, command, NULL, cancellable, error))
    return FALSE;
  if (!g_output_stream_write_all (output, self->chunk->data, self->chunk->len, NULL, cancellable, error))
    return FALSE;
  self->n_awaited++;
  g_byte_array_set_size (self->chunk, 0);

  if (self->lockstep && !last)
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (self->job, DISPATCH_SMTP_STAGE_DATA,
                                                                         cancellable, error);
      if (reply == NULL)
        return FALSE;
      self->n_awaited--;
      if (dispatch_smtp_reply_get_class (reply) != 2)
        {
          self->refusal = g_steal_pointer (&reply);
          /* Past a refused chunk the server is out of the transaction: QUIT is understood. */
          dispatch_smtp_job_set_can_quit (self->job, TRUE);
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "The server refused a chunk of the message");
          return FALSE;
        }
    }
  return TRUE;
}

static gssize
dispatch_smtp_bdat_stream_write (GOutputStream  *stream,
                                 const void     *buffer,
                                 gsize           count,
                                 GCancellable   *cancellable,
                                 GError        **error)
{
  DispatchSmtpBdatStream *self = DISPATCH_SMTP_BDAT_STREAM (stream);
  gsize n = MIN (count, self->chunk_size - self->chunk->len);

  g_byte_array_append (self->chunk, buffer, n);
  if (self->chunk->len == self->chunk_size && !send_chunk (self, FALSE, cancellable, error))
    return -1;
  return n;
}

static void
dispatch_smtp_bdat_stream_finalize (GObject *object)
{
  DispatchSmtpBdatStream *self = DISPATCH_SMTP_BDAT_STREAM (object);

  g_byte_array_unref (self->chunk);
  g_clear_pointer (&self->refusal, dispatch_smtp_reply_unref);
  G_OBJECT_CLASS (dispatch_smtp_bdat_stream_parent_class)->finalize (object);
}

static void
dispatch_smtp_bdat_stream_class_init (DispatchSmtpBdatStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dispatch_smtp_bdat_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = dispatch_smtp_bdat_stream_write;
}

static void
dispatch_smtp_bdat_stream_init (DispatchSmtpBdatStream *self)
{
  self->chunk = g_byte_array_new ();
}

DispatchSmtpBdatStream *
dispatch_smtp_bdat_stream_new (DispatchSmtpJob *job,
                               gsize            chunk_size,
                               gboolean         lockstep)
{
  DispatchSmtpBdatStream *self;

  g_return_val_if_fail (chunk_size > 0, NULL);

  self = g_object_new (DISPATCH_TYPE_SMTP_BDAT_STREAM, NULL);
  self->job = job;
  self->chunk_size = chunk_size;
  self->lockstep = lockstep;
  return self;
}

gboolean
dispatch_smtp_bdat_stream_send_last (DispatchSmtpBdatStream  *self,
                                     GCancellable            *cancellable,
                                     GError                 **error)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_BDAT_STREAM (self), FALSE);

  return send_chunk (self, TRUE, cancellable, error);
}

guint
dispatch_smtp_bdat_stream_get_n_awaited (DispatchSmtpBdatStream *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_BDAT_STREAM (self), 0);

  return self->n_awaited;
}

DispatchSmtpReply *
dispatch_smtp_bdat_stream_get_refusal (DispatchSmtpBdatStream *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_BDAT_STREAM (self), NULL);

  return self->refusal;
}
