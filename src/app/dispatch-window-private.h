/* dispatch-window-private.h — what dispatch-window.c and dispatch-window-actions.c share.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dispatch-engine.h"
#include "dispatch-transcript-view.h"
#include "dispatch-window.h"

G_BEGIN_DECLS

struct _DispatchWindow
{
  AdwApplicationWindow    parent_instance;

  /* Template widgets */
  AdwToastOverlay        *toast_overlay;
  AdwWindowTitle         *window_title;
  GtkButton              *send_button;
  GtkWidget              *attach_button;
  AdwLeaflet             *leaflet;
  GtkWidget              *transcript_separator;
  GtkScrolledWindow      *compose_scroller;
  GtkBox                 *compose_box;
  GtkRevealer            *result_revealer;
  GtkBox                 *result_card;
  GtkImage               *result_icon;
  GtkLabel               *result_title;
  GtkLabel               *result_description;
  GtkGrid                *result_details;
  GtkLabel               *result_hint;
  GtkWidget              *dismiss_button;
  AdwActionRow           *from_row;
  AdwEntryRow            *to_row;
  AdwEntryRow            *cc_row;
  AdwEntryRow            *bcc_row;
  AdwEntryRow            *subject_row;
  GtkLabel               *to_error;
  GtkLabel               *cc_error;
  GtkLabel               *bcc_error;
  GtkToggleButton        *cc_bcc_button;
  GtkTextView            *body_view;
  GtkListBox             *attachments_list;
  GtkRevealer            *status_revealer;
  GtkLabel               *phase_label;
  GtkProgressBar         *progress_bar;
  GtkButton              *cancel_button;
  DispatchTranscriptView *transcript_view;

  /* Owned references */
  GSettings              *settings;
  GFile                  *draft_file;
  DispatchSmtpSession    *session;      /* the send under way, NULL when idle */
  DispatchAccount        *account;      /* what it was sent with, for the certificate dialog */
  GCancellable           *cancellable;  /* of the send under way */
  char                   *discarded;    /* the draft before "New Message", for Undo */

  /* Weak pointer: the field that had the focus when the form was locked, to return to */
  GtkWidget              *locked_focus;

  guint                   draft_timeout_id;
  guint                   address_timeout_id;
  guint                   pulse_id;
  guint                   scroll_timeout_id;
  guint                   scroll_frames_left;
  guint                   layout_idle_id;
  guint                   paste_counter;
  guint                   sent_pictures;   /* attachments of the send under way or last */
  guint                   sent_files;

  guint                   show_transcript : 1;  /* the transcript is on screen */
  guint                   folded_show_transcript : 1;
  guint                   leaflet_was_folded : 1;
  guint                   applying_layout : 1;
  guint                   form_locked : 1;    /* read-only while a send is under way */
  guint                   scroll_to_result : 1; /* keep the form at its end, where the result is */
  guint                   restoring : 1;
  guint                   draft_dirty : 1;
  guint                   draft_writing : 1;
  guint                   draft_delete_pending : 1;
};

static inline const char *
_dispatch_window_row_text (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

/* Asynchronous callbacks keep the window alive, not its widgets: after dispose they must let go. */
static inline gboolean
_dispatch_window_is_disposed (DispatchWindow *self)
{
  return self->toast_overlay == NULL;
}

/* dispatch-window.c */
char            *_dispatch_window_dup_body           (DispatchWindow      *self);
void             _dispatch_window_toast              (DispatchWindow      *self,
                                                      const char          *title);
gboolean         _dispatch_window_form_is_empty      (DispatchWindow      *self);
DispatchMessage *_dispatch_window_build_message      (DispatchWindow      *self);
gboolean         _dispatch_window_check_form         (DispatchWindow      *self,
                                                      gboolean             show_errors);
void             _dispatch_window_update_actions     (DispatchWindow      *self);
/* Keeps the form at its end, where the result card is, until the reader scrolls or edits. */
void             _dispatch_window_scroll_to_result   (DispatchWindow      *self);
void             _dispatch_window_stop_scroll_to_result (DispatchWindow   *self);
void             _dispatch_window_draft_changed      (DispatchWindow      *self);
void             _dispatch_window_draft_delete       (DispatchWindow      *self);
char            *_dispatch_window_draft_serialize    (DispatchWindow      *self,
                                                      gsize               *length);
void             _dispatch_window_draft_restore      (DispatchWindow      *self,
                                                      GKeyFile            *key_file);

/* dispatch-window-actions.c: sending, results, certificates, attaching, pasting, exporting */
void             _dispatch_window_class_actions_init (DispatchWindowClass *klass);
gboolean         _dispatch_window_paste_shortcut_cb  (GtkWidget           *widget,
                                                      GVariant            *args,
                                                      gpointer             user_data);

G_END_DECLS
