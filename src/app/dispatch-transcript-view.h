/* dispatch-transcript-view.h — the SMTP dialogue as it happens, client and server told apart.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "dispatch-engine.h"

G_BEGIN_DECLS

#define DISPATCH_TYPE_TRANSCRIPT_VIEW (dispatch_transcript_view_get_type ())

G_DECLARE_FINAL_TYPE (DispatchTranscriptView, dispatch_transcript_view, DISPATCH, TRANSCRIPT_VIEW, GtkWidget)

GtkWidget *dispatch_transcript_view_new      (void);
/* @line is shown with "C: " (client), "S: " (server) or "* " (our notes) in front. */
void       dispatch_transcript_view_append   (DispatchTranscriptView *self,
                                              DispatchSmtpDirection   direction,
                                              const char             *line);
void       dispatch_transcript_view_clear    (DispatchTranscriptView *self);
/* The whole transcript as plain text with the prefixes, one line each. */
char      *dispatch_transcript_view_dup_text (DispatchTranscriptView *self);
guint      dispatch_transcript_view_get_n_lines (DispatchTranscriptView *self);

G_END_DECLS
