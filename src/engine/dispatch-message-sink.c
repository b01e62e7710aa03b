/* dispatch-message-sink.c — the end of the message pipeline: dot-stuffing, chunks, progress.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "dispatch-message-sink-private.h"

/* Dot-stuffs what GMime writes when asked to, takes the attachments' base64 lines straight into
 * its buffer, and hands the GOutputStream pieces of DISPATCH_MESSAGE_SINK_CHUNK; or only counts
 * when there is no stream (the size pass).
 *
 * GMime already writes CRLF (GMIME_NEWLINE_FORMAT_DOS) and no longer sees the attachment
 * bodies, so one memchr() pass over the headers and the text is all that is left here. */

struct _DispatchMessageSink
{
  GMimeStream                  parent_instance;

  /* borrowed */
  DispatchMessageWriteContext *ctx;
  DispatchMessageSinkProgress  progress;
  gpointer                     progress_data;

  /* owned */
  GOutputStream               *output;
  guint8                      *buffer;
  gsize                        buffered;

  gboolean                     dot_stuff;
  gboolean                     at_line_start;
  guint64                      written;
  guint64                      reported;
};

typedef struct
{
  GMimeStreamClass parent_class;
} DispatchMessageSinkClass;

G_DEFINE_FINAL_TYPE (DispatchMessageSink, dispatch_message_sink, GMIME_TYPE_STREAM)

static void
dispatch_message_sink_report (DispatchMessageSink *self)
{
  if (self->progress != NULL && self->written != self->reported)
    self->progress (self->written, self->progress_data);
  self->reported = self->written;
}

static gboolean
dispatch_message_sink_drain (DispatchMessageSink *self)
{
  GError *error = NULL;

  if (self->buffered == 0)
    return TRUE;

  if (!g_output_stream_write_all (self->output, self->buffer, self->buffered, NULL,
                                  self->ctx->cancellable, &error))
    {
      dispatch_message_write_context_fail (self->ctx, error);
      return FALSE;
    }

  self->written += self->buffered;
  self->buffered = 0;
  dispatch_message_sink_report (self);

  return TRUE;
}

gboolean
dispatch_message_sink_append (DispatchMessageSink *self,
                              const char          *buf,
                              gsize                len)
{
  if (len == 0)
    return TRUE;

  self->at_line_start = buf[len - 1] == '\n';

  if (self->output == NULL)
    {
      self->written += len;
      return TRUE;
    }

  while (len > 0)
    {
      gsize n = MIN (len, DISPATCH_MESSAGE_SINK_CHUNK - self->buffered);

      memcpy (self->buffer + self->buffered, buf, n);
      self->buffered += n;
      buf += n;
      len -= n;

      if (self->buffered == DISPATCH_MESSAGE_SINK_CHUNK && !dispatch_message_sink_drain (self))
        return FALSE;
    }

  return TRUE;
}

/* RFC 5321 §4.5.2: a line that starts with "." gets another in front. GMime hands over
 * CRLF lines, so a line starts after each LF, and at the very beginning. */
static gboolean
dispatch_message_sink_append_stuffed (DispatchMessageSink *self,
                                      const char          *buf,
                                      gsize                len)
{
  const char *end = buf + len;

  while (buf < end)
    {
      const char *newline = memchr (buf, '\n', end - buf);
      const char *next = newline != NULL ? newline + 1 : end;

      if (self->at_line_start && *buf == '.' && !dispatch_message_sink_append (self, ".", 1))
        return FALSE;
      if (!dispatch_message_sink_append (self, buf, next - buf))
        return FALSE;
      buf = next;
    }

  return TRUE;
}

static ssize_t
dispatch_message_sink_write (GMimeStream *stream,
                             const char  *buf,
                             size_t       len)
{
  DispatchMessageSink *self = (DispatchMessageSink *) stream;
  GError *error = NULL;
  gboolean ok;

  if (self->ctx->error != NULL)
    return -1;

  /* The size pass has no stream to notice cancellation for it. */
  if (g_cancellable_set_error_if_cancelled (self->ctx->cancellable, &error))
    {
      dispatch_message_write_context_fail (self->ctx, error);
      return -1;
    }

  if (self->dot_stuff)
    ok = dispatch_message_sink_append_stuffed (self, buf, len);
  else
    ok = dispatch_message_sink_append (self, buf, len);
  if (!ok)
    return -1;

  stream->position += len;

  return len;
}

/* Empty only on a failed drain. Base64 holds no "." and always ends in CRLF, so what goes in
 * this way never needs stuffing. */
guint8 *
dispatch_message_sink_reserve (DispatchMessageSink *self,
                               gsize               *room)
{
  g_assert (self->output != NULL);

  if (self->buffered == DISPATCH_MESSAGE_SINK_CHUNK && !dispatch_message_sink_drain (self))
    {
      *room = 0;
      return NULL;
    }

  *room = DISPATCH_MESSAGE_SINK_CHUNK - self->buffered;

  return self->buffer + self->buffered;
}

gboolean
dispatch_message_sink_commit (DispatchMessageSink *self,
                              gsize                len)
{
  g_assert (self->buffered + len <= DISPATCH_MESSAGE_SINK_CHUNK);

  if (len == 0)
    return TRUE;

  self->buffered += len;
  self->at_line_start = self->buffer[self->buffered - 1] == '\n';

  return self->buffered < DISPATCH_MESSAGE_SINK_CHUNK || dispatch_message_sink_drain (self);
}

void
dispatch_message_sink_skip (DispatchMessageSink *self,
                            guint64              len)
{
  g_assert (self->output == NULL);

  self->written += len;
  if (len > 0)
    self->at_line_start = TRUE;
}

/* GMime flushes after every header block and part; passing that on would defeat the chunking.
 * The writer drains the buffer itself once the whole message is through. */
static int
dispatch_message_sink_flush (GMimeStream *stream)
{
  return 0;
}

static ssize_t
dispatch_message_sink_read (GMimeStream *stream,
                            char        *buf,
                            size_t       len)
{
  return -1;
}

static int
dispatch_message_sink_close (GMimeStream *stream)
{
  return 0;
}

static gboolean
dispatch_message_sink_eos (GMimeStream *stream)
{
  return FALSE;
}

static int
dispatch_message_sink_reset (GMimeStream *stream)
{
  return -1;
}

static gint64
dispatch_message_sink_seek (GMimeStream     *stream,
                            gint64           offset,
                            GMimeSeekWhence  whence)
{
  return -1;
}

static gint64
dispatch_message_sink_length (GMimeStream *stream)
{
  return -1;
}

static void
dispatch_message_sink_finalize (GObject *object)
{
  DispatchMessageSink *self = (DispatchMessageSink *) object;

  g_clear_object (&self->output);
  g_clear_pointer (&self->buffer, g_free);

  G_OBJECT_CLASS (dispatch_message_sink_parent_class)->finalize (object);
}

static void
dispatch_message_sink_class_init (DispatchMessageSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GMimeStreamClass *stream_class = GMIME_STREAM_CLASS (klass);

  object_class->finalize = dispatch_message_sink_finalize;

  stream_class->read = dispatch_message_sink_read;
  stream_class->write = dispatch_message_sink_write;
  stream_class->flush = dispatch_message_sink_flush;
  stream_class->close = dispatch_message_sink_close;
  stream_class->eos = dispatch_message_sink_eos;
  stream_class->reset = dispatch_message_sink_reset;
  stream_class->seek = dispatch_message_sink_seek;
  stream_class->length = dispatch_message_sink_length;
}

static void
dispatch_message_sink_init (DispatchMessageSink *self)
{
}

DispatchMessageSink *
dispatch_message_sink_new (GOutputStream               *output,
                           gboolean                     dot_stuff,
                           DispatchMessageWriteContext *ctx,
                           DispatchMessageSinkProgress  progress,
                           gpointer                     progress_data)
{
  DispatchMessageSink *self = g_object_new (dispatch_message_sink_get_type (), NULL);

  g_mime_stream_construct (GMIME_STREAM (self), 0, -1);
  self->ctx = ctx;
  self->progress = progress;
  self->progress_data = progress_data;
  self->dot_stuff = dot_stuff;
  self->at_line_start = TRUE;
  if (output != NULL)
    {
      self->output = g_object_ref (output);
      self->buffer = g_malloc (DISPATCH_MESSAGE_SINK_CHUNK);
    }

  return self;
}

gboolean
dispatch_message_sink_counts_only (DispatchMessageSink *self)
{
  return self->output == NULL;
}

gboolean
dispatch_message_sink_finish (DispatchMessageSink *self)
{
  if (self->output != NULL && !dispatch_message_sink_drain (self))
    return FALSE;

  dispatch_message_sink_report (self);

  return TRUE;
}

guint64
dispatch_message_sink_get_written (DispatchMessageSink *self)
{
  return self->written;
}
