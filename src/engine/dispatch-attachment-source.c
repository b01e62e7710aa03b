/* dispatch-attachment-source.c — an attachment's place in the GMime tree; base64 encoded in place.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "dispatch-attachment-source-private.h"

/* Base64 for attachments, written here rather than by GMime: the same lines GMime's encoder
 * and its CRLF filter produce, in a fraction of the time. */

static const char base64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

guint64
dispatch_attachment_source_wire_size (guint64 size)
{
  guint64 rest = size % DISPATCH_BASE64_LINE_RAW;

  return size / DISPATCH_BASE64_LINE_RAW * DISPATCH_BASE64_LINE_WIRE + (rest > 0 ? (rest + 2) / 3 * 4 + 2 : 0);
}

/* Writes dispatch_attachment_source_wire_size (@len) octets at @out. Only the end of the input may end a line
 * early, so a block of whole lines continues the one before it. */
static gsize
encode_base64_lines (const guint8 *in,
                     gsize         len,
                     guint8       *out)
{
  guint8 *start = out;

  while (len > 0)
    {
      gsize line = MIN (len, DISPATCH_BASE64_LINE_RAW);
      gsize rest = line % 3;
      const guint8 *end = in + (line - rest);

      for (; in < end; in += 3)
        {
          guint32 v = (guint32) in[0] << 16 | (guint32) in[1] << 8 | in[2];

          out[0] = base64_alphabet[v >> 18];
          out[1] = base64_alphabet[(v >> 12) & 0x3f];
          out[2] = base64_alphabet[(v >> 6) & 0x3f];
          out[3] = base64_alphabet[v & 0x3f];
          out += 4;
        }

      if (rest > 0)
        {
          guint32 v = (guint32) in[0] << 16 | (rest == 2 ? (guint32) in[1] << 8 : 0);

          out[0] = base64_alphabet[v >> 18];
          out[1] = base64_alphabet[(v >> 12) & 0x3f];
          out[2] = rest == 2 ? base64_alphabet[(v >> 6) & 0x3f] : '=';
          out[3] = '=';
          out += 4;
          in += rest;
        }

      out[0] = '\r';
      out[1] = '\n';
      out += 2;
      len -= line;
    }

  return out - start;
}

/* DispatchAttachmentSource: an attachment's place in the GMime tree. GMime never gets its
 * bytes: when it first asks, the source puts the whole file into the sink itself as base64
 * lines, then says it has ended. The part's content is marked as already base64, so GMime
 * adds no encoder; the CRLF filter it still puts in front sees nothing, and the line end
 * GMime may add to a body of its own goes only to a message's top part, which an attachment
 * never is. So the wire form is what GMime wrote before, byte for byte. In the size pass the
 * source only counts. Read errors name the file. */

struct _DispatchAttachmentSource
{
  GMimeStream                  parent_instance;

  /* borrowed */
  DispatchMessageWriteContext *ctx;

  /* owned */
  DispatchAttachment          *attachment;
  char                        *name;
  gboolean                     at_end;
};

typedef struct
{
  GMimeStreamClass parent_class;
} DispatchAttachmentSourceClass;

G_DEFINE_FINAL_TYPE (DispatchAttachmentSource, dispatch_attachment_source, GMIME_TYPE_STREAM)

/* Reads the file straight into the sink's buffer and encodes it there, in place: the raw
 * octets of n whole lines (57 each) are read into the end of the room their base64 (78 each)
 * will fill, and the encoder, which takes each group of three octets before it writes its four
 * characters, starts 21·n octets behind its input and gains 21 a line: it never overwrites
 * what it has still to read. So no buffer of its own, and no copy. The one line that straddles
 * two chunks is done the same way in a line-sized buffer. */
static gboolean
dispatch_attachment_source_pour (DispatchAttachmentSource *self,
                                 DispatchAttachmentInput  *input)
{
  DispatchMessageSink *sink = self->ctx->sink;
  GError *error = NULL;
  gsize wanted;
  gsize n_read;

  do
    {
      guint8 line[DISPATCH_BASE64_LINE_WIRE];
      gsize room;
      guint8 *out = dispatch_message_sink_reserve (sink, &room);
      guint8 *raw;
      gsize lines;
      gsize encoded;

      if (out == NULL)
        return FALSE;

      lines = room / DISPATCH_BASE64_LINE_WIRE;
      if (lines == 0)
        {
          out = line;
          lines = 1;
        }
      wanted = lines * DISPATCH_BASE64_LINE_RAW;
      raw = out + lines * (DISPATCH_BASE64_LINE_WIRE - DISPATCH_BASE64_LINE_RAW);

      if (!dispatch_attachment_input_read_all (input, raw, wanted, &n_read, self->ctx->cancellable,
                                      &error))
        {
          dispatch_message_write_context_fail (self->ctx, dispatch_attachment_error (self->name, error));
          return FALSE;
        }

      encoded = encode_base64_lines (raw, n_read, out);
      if (out == line ? !dispatch_message_sink_append (sink, (const char *) line, encoded)
                      : !dispatch_message_sink_commit (sink, encoded))
        return FALSE;
    }
  while (n_read == wanted);

  return TRUE;
}

/* The size pass: the length of the open file, so that a file gone or locked since
 * _prepare() fails here as it would in the write. */
static gboolean
dispatch_attachment_source_measure (DispatchAttachmentSource *self,
                                    DispatchAttachmentInput  *input)
{
  guint64 size = 0;

  if (!dispatch_attachment_input_get_size (input, &size))
    {
      GError *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                                           g_strerror (ESPIPE));

      dispatch_message_write_context_fail (self->ctx, dispatch_attachment_error (self->name, error));
      return FALSE;
    }

  dispatch_message_sink_skip (self->ctx->sink, dispatch_attachment_source_wire_size (size));

  return TRUE;
}

static ssize_t
dispatch_attachment_source_read (GMimeStream *stream,
                                 char        *buf,
                                 size_t       len)
{
  DispatchAttachmentSource *self = (DispatchAttachmentSource *) stream;
  g_auto(DispatchAttachmentInput) input = DISPATCH_ATTACHMENT_INPUT_INIT;
  GError *error = NULL;
  gboolean ok;

  if (self->ctx->error != NULL)
    return -1;

  if (self->at_end)
    return 0;
  self->at_end = TRUE;

  if (!dispatch_attachment_input_open (&input, self->attachment, self->ctx->cancellable, &error))
    {
      dispatch_message_write_context_fail (self->ctx, dispatch_attachment_error (self->name, error));
      return -1;
    }

  if (dispatch_message_sink_counts_only (self->ctx->sink))
    ok = dispatch_attachment_source_measure (self, &input);
  else
    ok = dispatch_attachment_source_pour (self, &input);

  return ok ? 0 : -1;
}

static ssize_t
dispatch_attachment_source_write (GMimeStream *stream,
                                  const char  *buf,
                                  size_t       len)
{
  return -1;
}

static int
dispatch_attachment_source_flush (GMimeStream *stream)
{
  return 0;
}

static int
dispatch_attachment_source_close (GMimeStream *stream)
{
  ((DispatchAttachmentSource *) stream)->at_end = TRUE;

  return 0;
}

static gboolean
dispatch_attachment_source_eos (GMimeStream *stream)
{
  return ((DispatchAttachmentSource *) stream)->at_end;
}

/* GMime resets a content stream before and after writing it; the next read starts over. */
static int
dispatch_attachment_source_reset (GMimeStream *stream)
{
  ((DispatchAttachmentSource *) stream)->at_end = FALSE;

  return 0;
}

static gint64
dispatch_attachment_source_seek (GMimeStream     *stream,
                                 gint64           offset,
                                 GMimeSeekWhence  whence)
{
  return -1;
}

static gint64
dispatch_attachment_source_length (GMimeStream *stream)
{
  return -1;
}

static void
dispatch_attachment_source_finalize (GObject *object)
{
  DispatchAttachmentSource *self = (DispatchAttachmentSource *) object;

  g_clear_pointer (&self->attachment, dispatch_attachment_free);
  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (dispatch_attachment_source_parent_class)->finalize (object);
}

static void
dispatch_attachment_source_class_init (DispatchAttachmentSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GMimeStreamClass *stream_class = GMIME_STREAM_CLASS (klass);

  object_class->finalize = dispatch_attachment_source_finalize;

  stream_class->read = dispatch_attachment_source_read;
  stream_class->write = dispatch_attachment_source_write;
  stream_class->flush = dispatch_attachment_source_flush;
  stream_class->close = dispatch_attachment_source_close;
  stream_class->eos = dispatch_attachment_source_eos;
  stream_class->reset = dispatch_attachment_source_reset;
  stream_class->seek = dispatch_attachment_source_seek;
  stream_class->length = dispatch_attachment_source_length;
}

static void
dispatch_attachment_source_init (DispatchAttachmentSource *self)
{
}

GMimeStream *
dispatch_attachment_source_new (const DispatchAttachment    *attachment,
                                const char                  *name,
                                DispatchMessageWriteContext *ctx)
{
  DispatchAttachmentSource *self = g_object_new (dispatch_attachment_source_get_type (), NULL);

  g_mime_stream_construct (GMIME_STREAM (self), 0, -1);
  self->ctx = ctx;
  self->attachment = dispatch_attachment_copy (attachment);
  self->name = g_strdup (name);

  return GMIME_STREAM (self);
}
