/* dispatch-attachment-row.h — one attached file: thumbnail or icon, name, size, remove.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_ATTACHMENT_ROW (dispatch_attachment_row_get_type ())

G_DECLARE_FINAL_TYPE (DispatchAttachmentRow, dispatch_attachment_row, DISPATCH, ATTACHMENT_ROW, AdwActionRow)

/* Emits "remove" when the user asks to remove it; the owner takes it out of the list. */
GtkWidget    *dispatch_attachment_row_new           (GFile                 *file);
GFile        *dispatch_attachment_row_get_file      (DispatchAttachmentRow *self);
/* 0 until the file has been looked at. */
guint64       dispatch_attachment_row_get_size      (DispatchAttachmentRow *self);
/* The scaled-down picture for images, once loaded; NULL otherwise. */
GdkPaintable *dispatch_attachment_row_get_thumbnail (DispatchAttachmentRow *self);

G_END_DECLS
