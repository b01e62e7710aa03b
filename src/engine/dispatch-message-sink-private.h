/* dispatch-message-sink-private.h — the end of the message pipeline: dot-stuffing and chunks.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The builder writes GMime's tree into the sink; attachment sources put their base64 lines
 * straight into its buffer. It knows GMime's stream class and the output stream, nothing of
 * the message.
 */
#pragma once

#include <gio/gio.h>
#include <gmime/gmime.h>

G_BEGIN_DECLS

/* The writer hands the socket 64 KiB at a time: few TLS records, and the progress callback
 * runs at most once per chunk. */
#define DISPATCH_MESSAGE_SINK_CHUNK (64 * 1024)

typedef struct _DispatchMessageSink DispatchMessageSink;

GType dispatch_message_sink_get_type (void);

/* One write of the message: every stream in the GMime tree reports here, so that the first
 * failure — with its real GError — survives GMime's plain -1 return values. Lives on the
 * writer's stack; the tree that points at it is dropped before the writer returns. */
typedef struct
{
  GCancellable        *cancellable;
  GError              *error;
  /* where attachment sources put their base64 lines, past GMime's filters */
  DispatchMessageSink *sink;
} DispatchMessageWriteContext;

/* Keeps the first failure; takes @error. */
static inline void
dispatch_message_write_context_fail (DispatchMessageWriteContext *ctx,
                                     GError                      *error)
{
  if (ctx->error == NULL)
    ctx->error = error;
  else
    g_error_free (error);
}

/* Called as bytes go out, at most once per chunk; a DispatchMessageProgressFunc. */
typedef void (*DispatchMessageSinkProgress) (guint64  written,
                                             gpointer user_data);

/* @output NULL: only count (the size pass). */
DispatchMessageSink *dispatch_message_sink_new         (GOutputStream               *output,
                                                        gboolean                     dot_stuff,
                                                        DispatchMessageWriteContext *ctx,
                                                        DispatchMessageSinkProgress  progress,
                                                        gpointer                     progress_data);
gboolean             dispatch_message_sink_counts_only (DispatchMessageSink *self);
/* Octets written (or counted) so far, dot-stuffing included. */
guint64              dispatch_message_sink_get_written (DispatchMessageSink *self);
/* Appends bytes as they are, without dot-stuffing. */
gboolean             dispatch_message_sink_append      (DispatchMessageSink *self,
                                                        const char          *buf,
                                                        gsize                len);
/* The free end of the buffer, to encode whole lines into in place, then _commit() what was
 * put there. What goes in this way must never need dot-stuffing (base64 lines do not). */
guint8              *dispatch_message_sink_reserve     (DispatchMessageSink *self,
                                                        gsize               *room);
gboolean             dispatch_message_sink_commit      (DispatchMessageSink *self,
                                                        gsize                len);
/* The size pass: octets an attachment would have put in, without them. */
void                 dispatch_message_sink_skip        (DispatchMessageSink *self,
                                                        guint64              len);
/* After the whole message: what is still buffered goes out, and the last progress call. */
gboolean             dispatch_message_sink_finish      (DispatchMessageSink *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchMessageSink, g_object_unref)

G_END_DECLS
