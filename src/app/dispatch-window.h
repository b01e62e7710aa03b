/* dispatch-window.h — the compose window: the form, sending with live status, the result.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_WINDOW (dispatch_window_get_type ())

G_DECLARE_FINAL_TYPE (DispatchWindow, dispatch_window, DISPATCH, WINDOW, AdwApplicationWindow)

/* @application may be NULL (tests). The draft of the last session is restored. */
DispatchWindow *dispatch_window_new            (GtkApplication *application);

/* A window with a draft of its own at @draft_path (restored if it exists): for a second message
 * while the first window holds one. */
DispatchWindow *dispatch_window_new_for_draft  (GtkApplication *application,
                                                const char     *draft_path);
/* Empty form and no send under way: new content may go into it without overwriting work. */
gboolean        dispatch_window_is_blank       (DispatchWindow *self);

/* Fills the form from a mailto: link or the command line; NULL leaves a field as it is. */
void            dispatch_window_prefill        (DispatchWindow *self,
                                                const char     *to,
                                                const char     *cc,
                                                const char     *bcc,
                                                const char     *subject,
                                                const char     *body);
/* Adds @file unless it is attached already. */
void            dispatch_window_add_attachment (DispatchWindow *self,
                                                GFile          *file);
/* (element-type GFile) (transfer container) */
GPtrArray      *dispatch_window_list_attachments (DispatchWindow *self);
/* "Save as .eml…" once a file is chosen: written in a worker thread, a toast says the outcome. */
void            dispatch_window_save_message   (DispatchWindow *self,
                                                GFile          *file);
gboolean        dispatch_window_is_sending     (DispatchWindow *self);

/* Where the first window's draft lives: $XDG_DATA_HOME/dispatch/draft; other windows' drafts
 * beside it, named DISPATCH_WINDOW_EXTRA_DRAFT_PREFIX and a random UUID. */
#define DISPATCH_WINDOW_EXTRA_DRAFT_PREFIX "draft-"
char           *dispatch_window_dup_draft_path (void);
char           *dispatch_window_dup_new_draft_path (void);

G_END_DECLS
