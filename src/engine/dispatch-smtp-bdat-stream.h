/* dispatch-smtp-bdat-stream.h — a stream that frames what is written to it as BDAT chunks.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * RFC 3030: each chunk goes out as "BDAT n" and n octets, on the job's connection, with no
 * dot-stuffing. In lock-step each chunk's reply is read before the next; pipelined, the
 * replies are left to the transaction, which knows what else is due.
 */
#pragma once

#include "dispatch-smtp-job.h"

G_BEGIN_DECLS

#define DISPATCH_TYPE_SMTP_BDAT_STREAM (dispatch_smtp_bdat_stream_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSmtpBdatStream, dispatch_smtp_bdat_stream, DISPATCH, SMTP_BDAT_STREAM, GOutputStream)

/* @job must outlive the stream. */
DispatchSmtpBdatStream *dispatch_smtp_bdat_stream_new            (DispatchSmtpJob         *job,
                                                                  gsize                    chunk_size,
                                                                  gboolean                 lockstep);

/* Sends what is left as the last chunk, "BDAT n LAST"; its reply is the transaction's. */
gboolean                dispatch_smtp_bdat_stream_send_last      (DispatchSmtpBdatStream  *self,
                                                                  GCancellable            *cancellable,
                                                                  GError                 **error);

/* Chunks sent whose replies were not read yet. */
guint                   dispatch_smtp_bdat_stream_get_n_awaited  (DispatchSmtpBdatStream  *self);

/* In lock-step, the reply that refused a chunk and so ended the writing, or NULL. */
DispatchSmtpReply      *dispatch_smtp_bdat_stream_get_refusal    (DispatchSmtpBdatStream  *self);

G_END_DECLS
