/* dispatch-window.c — the compose window: form, address checks, drafts, attachments; see -actions.c.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-attachment-row.h"
#include "dispatch-settings.h"
#include "dispatch-setup-banner.h"
#include "dispatch-window-private.h"

/* Typing pauses this long before a draft is written or an address is complained about. */
#define DRAFT_DELAY_MS        500
#define ADDRESS_ERROR_DELAY_MS 400
#define DRAFT_GROUP           "Draft"
/* Below the form's and the transcript's minimum widths together, the leaflet folds. */
#define NARROW_WIDTH          700
/* How long the form keeps to its end after a result is shown, in steps. */
#define SCROLL_SETTLE_FRAMES  30
#define SCROLL_SETTLE_INTERVAL_MS 16

enum {
  PROP_0,
  PROP_SHOW_TRANSCRIPT,
  PROP_DRAFT_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (DispatchWindow, dispatch_window, ADW_TYPE_APPLICATION_WINDOW)

/* Form helpers */

char *
_dispatch_window_dup_body (DispatchWindow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->body_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
_dispatch_window_toast (DispatchWindow *self,
                        const char     *title)
{
  g_autofree char *escaped = NULL;

  if (_dispatch_window_is_disposed (self))
    return;

  /* Toast titles are Pango markup in libadwaita 1.2: a folder named "R&D" would blank the
   * toast, and server text could restyle it. Every title here is plain text. */
  escaped = g_markup_escape_text (title, -1);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (escaped));
}

GPtrArray *
dispatch_window_list_attachments (DispatchWindow *self)
{
  GPtrArray *files = g_ptr_array_new ();

  g_return_val_if_fail (DISPATCH_IS_WINDOW (self), files);

  if (_dispatch_window_is_disposed (self))
    return files;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->attachments_list));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (DISPATCH_IS_ATTACHMENT_ROW (child))
        g_ptr_array_add (files, dispatch_attachment_row_get_file (DISPATCH_ATTACHMENT_ROW (child)));
    }

  return files;
}

gboolean
_dispatch_window_form_is_empty (DispatchWindow *self)
{
  g_autofree char *body = _dispatch_window_dup_body (self);
  g_autoptr(GPtrArray) files = dispatch_window_list_attachments (self);

  return _dispatch_window_row_text (self->to_row)[0] == '\0' &&
         _dispatch_window_row_text (self->cc_row)[0] == '\0' &&
         _dispatch_window_row_text (self->bcc_row)[0] == '\0' &&
         _dispatch_window_row_text (self->subject_row)[0] == '\0' &&
         body[0] == '\0' &&
         files->len == 0;
}

DispatchMessage *
_dispatch_window_build_message (DispatchWindow *self)
{
  g_autoptr(DispatchMessage) message = dispatch_message_new ();
  g_autoptr(GPtrArray) files = dispatch_window_list_attachments (self);
  g_autofree char *sender = dispatch_settings_dup_sender (self->settings);
  g_autofree char *body = _dispatch_window_dup_body (self);

  dispatch_message_set_from (message, sender);
  dispatch_message_set_to (message, _dispatch_window_row_text (self->to_row));
  dispatch_message_set_cc (message, _dispatch_window_row_text (self->cc_row));
  dispatch_message_set_bcc (message, _dispatch_window_row_text (self->bcc_row));
  dispatch_message_set_subject (message, _dispatch_window_row_text (self->subject_row));
  dispatch_message_set_text (message, body);

  for (guint i = 0; i < files->len; i++)
    dispatch_message_add_attachment (message, g_ptr_array_index (files, i));

  return g_steal_pointer (&message);
}


/* Address checks */

/* Returns whether the row's addresses are usable, counting them into @n_addresses; when
 * @show_errors, the reason is shown beside the field (and cleared at once when it is fixed). */
/* The engine's own check: the window accepts exactly what a send accepts (groups, comments,
 * quoted names), and says why not in the words the send would use. */
static gboolean
check_address_row (DispatchWindow              *self,
                   DispatchMessageAddressField  field,
                   AdwEntryRow                 *row,
                   GtkLabel                    *error_label,
                   gboolean                     show_errors,
                   guint                       *n_addresses)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hint = NULL;
  const char *reason = NULL;
  guint n = 0;
  gboolean ok;

  ok = dispatch_message_check_address_field (field, _dispatch_window_row_text (row), &n, &error);
  *n_addresses += n;
  if (error != NULL)
    reason = error->message;
  if (error != NULL && dispatch_error_get_hint (error) != NULL)
    hint = g_strconcat (error->message, "\n", dispatch_error_get_hint (error), NULL);

  if (ok)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
      gtk_widget_set_visible (GTK_WIDGET (error_label), FALSE);
      gtk_widget_set_tooltip_text (GTK_WIDGET (error_label), NULL);
    }
  else if (show_errors)
    {
      gtk_widget_add_css_class (GTK_WIDGET (row), "error");
      gtk_label_set_text (error_label, reason);
      gtk_widget_set_tooltip_text (GTK_WIDGET (error_label), hint != NULL ? hint : reason);
      gtk_widget_set_visible (GTK_WIDGET (error_label), TRUE);
    }

  return ok;
}

gboolean
_dispatch_window_check_form (DispatchWindow *self,
                             gboolean        show_errors)
{
  g_autofree char *sender = dispatch_settings_dup_sender_address (self->settings);
  guint n_recipients = 0;
  guint n_sender = 0;
  gboolean ok = TRUE;

  ok &= check_address_row (self, DISPATCH_MESSAGE_FIELD_TO, self->to_row, self->to_error, show_errors, &n_recipients);
  ok &= check_address_row (self, DISPATCH_MESSAGE_FIELD_CC, self->cc_row, self->cc_error, show_errors, &n_recipients);
  ok &= check_address_row (self, DISPATCH_MESSAGE_FIELD_BCC, self->bcc_row, self->bcc_error, show_errors, &n_recipients);
  ok &= dispatch_message_check_address_field (DISPATCH_MESSAGE_FIELD_FROM, sender, &n_sender, NULL) && n_sender == 1;

  return ok && n_recipients > 0;
}

static gboolean
address_timeout_cb (gpointer user_data)
{
  DispatchWindow *self = user_data;

  self->address_timeout_id = 0;
  _dispatch_window_check_form (self, TRUE);

  return G_SOURCE_REMOVE;
}

static void
address_changed_cb (DispatchWindow *self)
{
  g_clear_handle_id (&self->address_timeout_id, g_source_remove);

  /* Send follows every keystroke; complaints wait until typing pauses. */
  _dispatch_window_update_actions (self);
  self->address_timeout_id = g_timeout_add (ADDRESS_ERROR_DELAY_MS, address_timeout_cb, self);
  _dispatch_window_draft_changed (self);
}

static void
set_attachment_removable (GtkWidget *row,
                          gboolean   removable)
{
  gtk_widget_action_set_enabled (row, "attachment.remove", removable);
}

/* While a send is under way the message must not change, yet the form stays as it looks:
 * making it insensitive would dim, restyle and repaint every row of it when the send starts
 * and again when it ends. The fields turn read-only instead — still readable, selectable and
 * focusable, and announced as read-only — and what would change the message otherwise (the
 * Cc/Bcc toggle, removing an attachment) is disabled; attaching is an action of its own. */
static void
set_form_locked (DispatchWindow *self,
                 gboolean        locked)
{
  AdwEntryRow *rows[] = { self->to_row, self->cc_row, self->bcc_row, self->subject_row };

  if (self->form_locked == locked)
    return;

  self->form_locked = locked;

  /* A field that cannot take input should not keep the keyboard: Cancel takes it for the time
   * of the send (Escape or Space stops it), and the field gets it back afterwards. The text
   * view's cursor is left alone — hiding it while its blink timer runs aborts GTK 4.8
   * (gtktextview.c blink_cb asserts that the cursor is visible). */
  if (locked)
    {
      GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

      if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->compose_box)))
        {
          g_set_weak_pointer (&self->locked_focus, focus);
          gtk_widget_grab_focus (GTK_WIDGET (self->cancel_button));
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      GtkEditable *text = gtk_editable_get_delegate (GTK_EDITABLE (rows[i]));

      gtk_editable_set_editable (GTK_EDITABLE (rows[i]), !locked);
      gtk_accessible_update_property (GTK_ACCESSIBLE (text), GTK_ACCESSIBLE_PROPERTY_READ_ONLY, locked, -1);
    }

  gtk_text_view_set_editable (self->body_view, !locked);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->body_view), GTK_ACCESSIBLE_PROPERTY_READ_ONLY, locked, -1);
  gtk_widget_set_sensitive (GTK_WIDGET (self->cc_bcc_button), !locked);

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->attachments_list));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (DISPATCH_IS_ATTACHMENT_ROW (child))
        set_attachment_removable (child, !locked);
    }

  /* Back to where the user was, unless they have moved on meanwhile. */
  if (!locked && self->locked_focus != NULL)
    {
      GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

      if (focus == NULL || focus == GTK_WIDGET (self->cancel_button) ||
          !gtk_widget_get_mapped (focus))
        gtk_widget_grab_focus (self->locked_focus);
      g_clear_weak_pointer (&self->locked_focus);
    }
}

void
_dispatch_window_update_actions (DispatchWindow *self)
{
  gboolean sending = self->session != NULL;
  GtkWidget *widget = GTK_WIDGET (self);

  gtk_widget_action_set_enabled (widget, "win.send", !sending && _dispatch_window_check_form (self, FALSE));
  gtk_widget_action_set_enabled (widget, "win.cancel", sending);
  gtk_widget_action_set_enabled (widget, "win.attach", !sending);
  gtk_widget_action_set_enabled (widget, "win.paste-image", !sending);
  gtk_widget_action_set_enabled (widget, "win.new-message", !sending);
  gtk_widget_action_set_enabled (widget, "win.save-eml", !sending);
  gtk_widget_action_set_enabled (widget, "win.view-source", !sending);
  set_form_locked (self, sending);
}

static void
update_from_row (DispatchWindow *self)
{
  g_autofree char *sender = dispatch_settings_dup_sender (self->settings);
  g_autofree char *address = dispatch_settings_dup_sender_address (self->settings);
  g_autofree char *server = dispatch_settings_dup_server_label (self->settings);
  g_autofree char *subtitle = NULL;
  g_autoptr(GError) error = NULL;
  guint n = 0;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->from_row), sender);

  if (!dispatch_message_check_address_field (DISPATCH_MESSAGE_FIELD_FROM, address, &n, &error) || n != 1)
    {
      /* Translators: %s says what is wrong with the sender address */
      subtitle = g_strdup_printf (_("%s — edit the account to fix it"),
                                  error ? error->message : _("The sender address is not valid"));
      gtk_widget_add_css_class (GTK_WIDGET (self->from_row), "error");
    }
  else
    {
      /* Translators: %s is the server: "Sent through smtp.example.org:587 · STARTTLS" */
      subtitle = g_strdup_printf (_("Sent through %s"), server);
      gtk_widget_remove_css_class (GTK_WIDGET (self->from_row), "error");
    }

  adw_action_row_set_subtitle (self->from_row, subtitle);
}

static void apply_transcript_layout (DispatchWindow *self);

static void
settings_changed_cb (DispatchWindow *self,
                     const char     *key,
                     GSettings      *settings)
{
  if (g_str_equal (key, "show-transcript"))
    apply_transcript_layout (self);

  if (g_str_has_prefix (key, "window-") || g_str_equal (key, "show-transcript"))
    return;

  update_from_row (self);
  _dispatch_window_update_actions (self);
}

static void
subject_changed_cb (DispatchWindow *self)
{
  const char *subject = _dispatch_window_row_text (self->subject_row);

  adw_window_title_set_title (self->window_title, subject[0] != '\0' ? subject : _("New Message"));
  _dispatch_window_draft_changed (self);
}


/* Drafts: the form, saved a moment after each change, restored at start */

char *
dispatch_window_dup_draft_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "dispatch", "draft", NULL);
}

char *
dispatch_window_dup_new_draft_path (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *name = g_strconcat (DISPATCH_WINDOW_EXTRA_DRAFT_PREFIX, uuid, NULL);

  return g_build_filename (g_get_user_data_dir (), "dispatch", name, NULL);
}

char *
_dispatch_window_draft_serialize (DispatchWindow *self,
                                  gsize          *length)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GPtrArray) files = dispatch_window_list_attachments (self);
  g_autoptr(GPtrArray) uris = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *body = _dispatch_window_dup_body (self);

  for (guint i = 0; i < files->len; i++)
    g_ptr_array_add (uris, g_file_get_uri (g_ptr_array_index (files, i)));

  g_key_file_set_string (key_file, DRAFT_GROUP, "To", _dispatch_window_row_text (self->to_row));
  g_key_file_set_string (key_file, DRAFT_GROUP, "Cc", _dispatch_window_row_text (self->cc_row));
  g_key_file_set_string (key_file, DRAFT_GROUP, "Bcc", _dispatch_window_row_text (self->bcc_row));
  g_key_file_set_boolean (key_file, DRAFT_GROUP, "ShowCcBcc", gtk_toggle_button_get_active (self->cc_bcc_button));
  g_key_file_set_string (key_file, DRAFT_GROUP, "Subject", _dispatch_window_row_text (self->subject_row));
  g_key_file_set_string (key_file, DRAFT_GROUP, "Body", body);
  g_key_file_set_string_list (key_file, DRAFT_GROUP, "Attachments",
                              (const char * const *) uris->pdata, uris->len);

  return g_key_file_to_data (key_file, length, NULL);
}

static void clear_attachments (DispatchWindow *self);

void
_dispatch_window_draft_restore (DispatchWindow *self,
                                GKeyFile       *key_file)
{
  g_auto(GStrv) uris = NULL;
  g_autofree char *to = g_key_file_get_string (key_file, DRAFT_GROUP, "To", NULL);
  g_autofree char *cc = g_key_file_get_string (key_file, DRAFT_GROUP, "Cc", NULL);
  g_autofree char *bcc = g_key_file_get_string (key_file, DRAFT_GROUP, "Bcc", NULL);
  g_autofree char *subject = g_key_file_get_string (key_file, DRAFT_GROUP, "Subject", NULL);
  g_autofree char *body = g_key_file_get_string (key_file, DRAFT_GROUP, "Body", NULL);
  gboolean show_cc_bcc = g_key_file_get_boolean (key_file, DRAFT_GROUP, "ShowCcBcc", NULL);

  uris = g_key_file_get_string_list (key_file, DRAFT_GROUP, "Attachments", NULL, NULL);

  self->restoring = TRUE;

  gtk_editable_set_text (GTK_EDITABLE (self->to_row), to ? to : "");
  gtk_editable_set_text (GTK_EDITABLE (self->cc_row), cc ? cc : "");
  gtk_editable_set_text (GTK_EDITABLE (self->bcc_row), bcc ? bcc : "");
  gtk_editable_set_text (GTK_EDITABLE (self->subject_row), subject ? subject : "");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->body_view), body ? body : "", -1);
  gtk_toggle_button_set_active (self->cc_bcc_button,
                                show_cc_bcc || (cc && cc[0]) || (bcc && bcc[0]));

  clear_attachments (self);
  for (guint i = 0; uris != NULL && uris[i] != NULL; i++)
    {
      g_autoptr(GFile) file = g_file_new_for_uri (uris[i]);

      dispatch_window_add_attachment (self, file);
    }

  self->restoring = FALSE;
  _dispatch_window_update_actions (self);
}

static void draft_write (DispatchWindow *self);

static void
draft_delete_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(DispatchWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_delete_finish (G_FILE (object), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_warning ("Could not remove the draft: %s", error->message);
}

void
_dispatch_window_draft_delete (DispatchWindow *self)
{
  g_clear_handle_id (&self->draft_timeout_id, g_source_remove);
  self->draft_dirty = FALSE;

  /* A write in flight would bring the file back: delete once it lands. */
  if (self->draft_writing)
    {
      self->draft_delete_pending = TRUE;
      return;
    }

  g_file_delete_async (self->draft_file, G_PRIORITY_DEFAULT, NULL,
                       draft_delete_cb, g_object_ref (self));
}

static gboolean
draft_timeout_cb (gpointer user_data)
{
  DispatchWindow *self = user_data;

  self->draft_timeout_id = 0;

  if (!self->draft_writing)
    draft_write (self);

  return G_SOURCE_REMOVE;
}

static void
draft_write_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(DispatchWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  self->draft_writing = FALSE;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    g_warning ("Could not save the draft: %s", error->message);

  /* Closing flushed whatever was still pending. */
  if (_dispatch_window_is_disposed (self))
    return;

  if (self->draft_delete_pending)
    {
      self->draft_delete_pending = FALSE;
      _dispatch_window_draft_delete (self);
    }
  else if (self->draft_dirty && self->draft_timeout_id == 0)
    draft_write (self);
}

static void
draft_write (DispatchWindow *self)
{
  g_autoptr(GFile) parent = g_file_get_parent (self->draft_file);
  g_autoptr(GBytes) bytes = NULL;
  char *data;
  gsize length;

  self->draft_dirty = FALSE;

  if (_dispatch_window_form_is_empty (self))
    {
      _dispatch_window_draft_delete (self);
      return;
    }

  data = _dispatch_window_draft_serialize (self, &length);
  bytes = g_bytes_new_take (data, length);

  /* A few hundred bytes of metadata; the contents themselves are written asynchronously. */
  g_file_make_directory_with_parents (parent, NULL, NULL);

  self->draft_writing = TRUE;
  g_file_replace_contents_bytes_async (self->draft_file, bytes, NULL, FALSE,
                                       G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                       NULL, draft_write_cb, g_object_ref (self));
}

void
_dispatch_window_draft_changed (DispatchWindow *self)
{
  if (self->restoring)
    return;

  self->draft_dirty = TRUE;
  self->draft_delete_pending = FALSE;
  _dispatch_window_stop_scroll_to_result (self);
  g_clear_handle_id (&self->draft_timeout_id, g_source_remove);
  self->draft_timeout_id = g_timeout_add (DRAFT_DELAY_MS, draft_timeout_cb, self);
}

/* On close there is no later: write what is pending now. */
static void
draft_flush (DispatchWindow *self)
{
  g_autoptr(GFile) parent = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  if (!self->draft_dirty)
    return;

  g_clear_handle_id (&self->draft_timeout_id, g_source_remove);
  self->draft_dirty = FALSE;

  if (_dispatch_window_form_is_empty (self))
    {
      g_file_delete (self->draft_file, NULL, NULL);
      return;
    }

  parent = g_file_get_parent (self->draft_file);
  g_file_make_directory_with_parents (parent, NULL, NULL);
  data = _dispatch_window_draft_serialize (self, &length);

  if (!g_file_replace_contents (self->draft_file, data, length, NULL, FALSE,
                                G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                NULL, NULL, &error))
    g_warning ("Could not save the draft: %s", error->message);
}

static void
draft_load (DispatchWindow *self)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autofree char *path = g_file_get_path (self->draft_file);
  g_autoptr(GError) error = NULL;

  /* A draft is a few hundred bytes: reading it before the window shows is cheaper than
   * showing an empty form and filling it a moment later. */
  if (!g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Could not read the draft %s: %s", path, error->message);
      return;
    }

  _dispatch_window_draft_restore (self, key_file);
}


/* Attachments */

static void
attachment_remove_cb (DispatchWindow        *self,
                      DispatchAttachmentRow *row)
{
  gtk_list_box_remove (self->attachments_list, GTK_WIDGET (row));
  _dispatch_window_draft_changed (self);
}

void
dispatch_window_add_attachment (DispatchWindow *self,
                                GFile          *file)
{
  g_autoptr(GPtrArray) files = NULL;
  GtkWidget *row;

  g_return_if_fail (DISPATCH_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  if (_dispatch_window_is_disposed (self))
    return;

  files = dispatch_window_list_attachments (self);
  for (guint i = 0; i < files->len; i++)
    {
      if (g_file_equal (file, g_ptr_array_index (files, i)))
        return;
    }

  /* A dropped or restored folder would only fail at Send; say so now. A stat of a local
   * or portal path does not stall the window. */
  if (g_file_query_file_type (file, G_FILE_QUERY_INFO_NONE, NULL) == G_FILE_TYPE_DIRECTORY)
    {
      g_autofree char *name = g_file_get_basename (file);
      /* Translators: %s is a folder name */
      g_autofree char *message = g_strdup_printf (_("“%s” is a folder: only files can be attached"), name);

      _dispatch_window_toast (self, message);
      return;
    }

  row = dispatch_attachment_row_new (file);
  set_attachment_removable (row, !self->form_locked);
  g_signal_connect_object (row, "remove", G_CALLBACK (attachment_remove_cb), self, G_CONNECT_SWAPPED);
  gtk_list_box_append (self->attachments_list, row);
  _dispatch_window_draft_changed (self);
}

static void
clear_attachments (DispatchWindow *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->attachments_list))) != NULL &&
         DISPATCH_IS_ATTACHMENT_ROW (child))
    gtk_list_box_remove (self->attachments_list, child);
}

static gboolean
drop_cb (GtkDropTarget  *target,
         const GValue   *value,
         double          x,
         double          y,
         DispatchWindow *self)
{
  GSList *files;

  if (self->session != NULL || !G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;

  files = g_value_get_boxed (value);
  for (const GSList *l = files; l != NULL; l = l->next)
    dispatch_window_add_attachment (self, l->data);

  return files != NULL;
}


/* Scrolling to the result card */

/* The card's room is known only once the form is laid out with it, and the thumbnails may
 * still grow the rows: until the reader scrolls, the form follows its end. */
static gboolean
scroll_to_result_cb (gpointer user_data)
{
  DispatchWindow *self = user_data;
  GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (self->compose_scroller);

  if (self->scroll_to_result)
    gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment));

  /* The card's room may be known only some layouts later (wrapped labels, a slow machine):
   * keep at the end for a moment rather than trust one layout. A timeout rather than a
   * frame callback: it runs however the frames come. */
  if (self->scroll_to_result && self->scroll_frames_left > 0)
    {
      self->scroll_frames_left--;
      return G_SOURCE_CONTINUE;
    }

  self->scroll_timeout_id = 0;
  return G_SOURCE_REMOVE;
}

/* While the form keeps to its end, its viewport does not scroll to the focus: it would take
 * the keyboard's field (or the card's button, before the card is laid out) back into view
 * at every layout. */
static void
set_viewport_follows_focus (DispatchWindow *self,
                            gboolean        follows)
{
  GtkWidget *viewport = gtk_scrolled_window_get_child (self->compose_scroller);

  if (GTK_IS_VIEWPORT (viewport))
    gtk_viewport_set_scroll_to_focus (GTK_VIEWPORT (viewport), follows);
}

void
_dispatch_window_stop_scroll_to_result (DispatchWindow *self)
{
  if (!self->scroll_to_result)
    return;

  self->scroll_to_result = FALSE;
  set_viewport_follows_focus (self, TRUE);
}

void
_dispatch_window_scroll_to_result (DispatchWindow *self)
{
  self->scroll_to_result = TRUE;
  set_viewport_follows_focus (self, FALSE);
  self->scroll_frames_left = SCROLL_SETTLE_FRAMES;
  if (self->scroll_timeout_id == 0)
    self->scroll_timeout_id = g_timeout_add (SCROLL_SETTLE_INTERVAL_MS, scroll_to_result_cb, self);
}

/* The new bounds arrive while the viewport is being allocated, when it would not take a new
 * value into account: scroll a moment later. */
static void
compose_adjustment_changed_cb (DispatchWindow *self,
                               GParamSpec     *pspec,
                               GtkAdjustment  *adjustment)
{
  if (self->scroll_to_result)
    _dispatch_window_scroll_to_result (self);
}

/* Until the reader takes over, nothing else moves the form away from its end: the viewport
 * scrolls to a newly focused widget from where it was before the card was laid out. */
static void
compose_value_changed_cb (DispatchWindow *self,
                          GtkAdjustment  *adjustment)
{
  if (self->scroll_to_result &&
      gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment) < gtk_adjustment_get_upper (adjustment) - 0.5)
    _dispatch_window_scroll_to_result (self);
}

/* The reader takes over: a scroll, or a key. */
static gboolean
compose_scrolled_cb (DispatchWindow *self)
{
  _dispatch_window_stop_scroll_to_result (self);
  return FALSE;
}

static gboolean
key_pressed_cb (DispatchWindow *self)
{
  _dispatch_window_stop_scroll_to_result (self);
  return FALSE;
}


/* The transcript: beside the form, or folded away behind the header's button */

/* Side by side, "show the transcript" is a preference kept in the settings; folded, it is
 * only which of the two is on screen, and a narrow window starts with the form. */
static void
apply_transcript_layout (DispatchWindow *self)
{
  gboolean folded = adw_leaflet_get_folded (self->leaflet);
  gboolean shown;

  if (self->applying_layout)
    return;

  self->applying_layout = TRUE;

  if (folded)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->transcript_view), TRUE);
      adw_leaflet_set_visible_child (self->leaflet, self->folded_show_transcript
                                                    ? GTK_WIDGET (self->transcript_view)
                                                    : GTK_WIDGET (self->compose_scroller));
      shown = self->folded_show_transcript;
    }
  else
    {
      shown = g_settings_get_boolean (self->settings, "show-transcript");
      gtk_widget_set_visible (GTK_WIDGET (self->transcript_view), shown);
      gtk_widget_set_visible (self->transcript_separator, shown);
      adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->compose_scroller));
    }

  self->applying_layout = FALSE;

  if (self->show_transcript != shown)
    {
      self->show_transcript = shown;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_TRANSCRIPT]);
    }
}

static void
set_show_transcript (DispatchWindow *self,
                     gboolean        show)
{
  if (adw_leaflet_get_folded (self->leaflet))
    self->folded_show_transcript = show;
  else
    g_settings_set_boolean (self->settings, "show-transcript", show);

  apply_transcript_layout (self);
}

/* Narrow, the header bar has no room to spare: the form's own "Add…" button attaches. This
 * follows the size asked for, not the fold: a window that is 403 px wide because of the
 * button would never be made 400 px wide to fold in the first place. */
static void
default_width_changed_cb (DispatchWindow *self)
{
  int width, height;

  /* GTK 4.8 does not take NULL for either. */
  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  gtk_widget_set_visible (self->attach_button, width <= 0 || width >= NARROW_WIDTH);
}

static gboolean
layout_idle_cb (gpointer user_data)
{
  DispatchWindow *self = user_data;

  self->layout_idle_id = 0;
  apply_transcript_layout (self);

  return G_SOURCE_REMOVE;
}

/* Folding or unfolding, or a swipe back to the form. The leaflet folds while it is being
 * allocated, after the header bar: showing or hiding widgets now would leave them without an
 * allocation for this frame, so the layout follows right after it. */
static void
leaflet_changed_cb (DispatchWindow *self)
{
  if (self->applying_layout)
    return;

  if (adw_leaflet_get_folded (self->leaflet))
    {
      if (self->leaflet_was_folded)
        self->folded_show_transcript =
          adw_leaflet_get_visible_child (self->leaflet) == GTK_WIDGET (self->transcript_view);
      else
        self->folded_show_transcript = FALSE;
    }

  self->leaflet_was_folded = adw_leaflet_get_folded (self->leaflet);
  if (self->layout_idle_id == 0)
    self->layout_idle_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE, layout_idle_cb, self, NULL);
}


/* GObject and GtkWindow */

static void
close_while_sending_response_cb (AdwMessageDialog *dialog,
                                 const char       *response,
                                 DispatchWindow   *self)
{
  if (g_strcmp0 (response, "close") != 0)
    return;

  /* The send may have ended while the question was open; either way there is none now. */
  gtk_widget_activate_action (GTK_WIDGET (self), "win.cancel", NULL);
  gtk_window_close (GTK_WINDOW (self));
}

/* Closing would drop the send half-way: ask, the way an editor asks about unsaved changes. */
static void
ask_close_while_sending (DispatchWindow *self)
{
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                   _("A message is being sent"),
                                   _("If you close the window now, the message is not sent. "
                                     "Sending stops, and what you wrote is kept as a draft."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Sending"),
                                    "close", _("C_ancel Sending and Close"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "close", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  g_signal_connect_object (dialog, "response", G_CALLBACK (close_while_sending_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static gboolean
dispatch_window_close_request (GtkWindow *window)
{
  DispatchWindow *self = DISPATCH_WINDOW (window);
  int width, height;

  if (self->session != NULL)
    {
      ask_close_while_sending (self);
      return TRUE;
    }

  draft_flush (self);

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));

  return GTK_WINDOW_CLASS (dispatch_window_parent_class)->close_request (window);
}

static void
dispatch_window_constructed (GObject *object)
{
  DispatchWindow *self = (DispatchWindow *)object;

  G_OBJECT_CLASS (dispatch_window_parent_class)->constructed (object);

  if (self->draft_file == NULL)
    {
      g_autofree char *draft_path = dispatch_window_dup_draft_path ();

      self->draft_file = g_file_new_for_path (draft_path);
    }
  draft_load (self);
  _dispatch_window_update_actions (self);

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

#if DEVELOPMENT
  gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
#endif
}

static void
dispatch_window_dispose (GObject *object)
{
  DispatchWindow *self = (DispatchWindow *)object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);

  g_clear_handle_id (&self->draft_timeout_id, g_source_remove);
  g_clear_handle_id (&self->address_timeout_id, g_source_remove);
  g_clear_handle_id (&self->pulse_id, g_source_remove);
  g_clear_handle_id (&self->layout_idle_id, g_source_remove);
  g_clear_handle_id (&self->scroll_timeout_id, g_source_remove);
  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->account);
  g_clear_weak_pointer (&self->locked_focus);

  gtk_widget_dispose_template (GTK_WIDGET (self), DISPATCH_TYPE_WINDOW);

  G_OBJECT_CLASS (dispatch_window_parent_class)->dispose (object);
}

static void
dispatch_window_finalize (GObject *object)
{
  DispatchWindow *self = (DispatchWindow *)object;

  g_clear_object (&self->settings);
  g_clear_object (&self->draft_file);
  g_clear_pointer (&self->discarded, g_free);

  G_OBJECT_CLASS (dispatch_window_parent_class)->finalize (object);
}

static void
dispatch_window_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  DispatchWindow *self = DISPATCH_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SHOW_TRANSCRIPT:
      g_value_set_boolean (value, self->show_transcript);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dispatch_window_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  DispatchWindow *self = DISPATCH_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SHOW_TRANSCRIPT:
      set_show_transcript (self, g_value_get_boolean (value));
      break;

    case PROP_DRAFT_PATH:
      g_clear_object (&self->draft_file);
      if (g_value_get_string (value) != NULL)
        self->draft_file = g_file_new_for_path (g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dispatch_window_class_init (DispatchWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = dispatch_window_constructed;
  object_class->dispose = dispatch_window_dispose;
  object_class->finalize = dispatch_window_finalize;
  object_class->get_property = dispatch_window_get_property;
  object_class->set_property = dispatch_window_set_property;

  window_class->close_request = dispatch_window_close_request;

  properties[PROP_SHOW_TRANSCRIPT] =
    g_param_spec_boolean ("show-transcript", NULL, NULL,
                          TRUE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* Each window keeps its own draft; NULL means the first window's. */
  properties[PROP_DRAFT_PATH] =
    g_param_spec_string ("draft-path", NULL, NULL,
                         NULL,
                         (G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (DISPATCH_TYPE_TRANSCRIPT_VIEW);
  g_type_ensure (DISPATCH_TYPE_SETUP_BANNER);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/dispatchmail/Dispatch/dispatch-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, send_button);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, attach_button);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, transcript_separator);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, compose_scroller);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, compose_box);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_revealer);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_card);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_icon);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_title);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_description);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_details);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, result_hint);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, dismiss_button);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, from_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, to_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, cc_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, bcc_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, subject_row);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, to_error);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, cc_error);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, bcc_error);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, cc_bcc_button);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, body_view);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, attachments_list);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, status_revealer);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, phase_label);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, DispatchWindow, transcript_view);

  gtk_widget_class_bind_template_callback (widget_class, leaflet_changed_cb);

  _dispatch_window_class_actions_init (klass);
  gtk_widget_class_install_property_action (widget_class, "win.show-transcript", "show-transcript");
}

static void
dispatch_window_init (DispatchWindow *self)
{
  GtkEventController *controller;
  GtkAdjustment *adjustment;
  GtkDropTarget *drop_target;
  GtkWidget *placeholder;

  self->show_transcript = TRUE;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = dispatch_settings_new ();

  placeholder = g_object_new (GTK_TYPE_LABEL,
                              "label", _("Drop files here, or paste an image"),
                              "margin-top", 18,
                              "margin-bottom", 18,
                              "margin-start", 12,
                              "margin-end", 12,
                              "wrap", TRUE,
                              NULL);
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_list_box_set_placeholder (self->attachments_list, placeholder);

  adjustment = gtk_scrolled_window_get_vadjustment (self->compose_scroller);
  g_signal_connect_object (adjustment, "notify::upper", G_CALLBACK (compose_adjustment_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (adjustment, "notify::page-size", G_CALLBACK (compose_adjustment_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (adjustment, "value-changed", G_CALLBACK (compose_value_changed_cb), self, G_CONNECT_SWAPPED);
  controller = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_object (controller, "key-pressed", G_CALLBACK (key_pressed_cb), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_object (controller, "scroll", G_CALLBACK (compose_scrolled_cb), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self->compose_scroller), controller);

  drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect_object (drop_target, "drop", G_CALLBACK (drop_cb), self, 0);
  gtk_widget_add_controller (GTK_WIDGET (self->compose_scroller), GTK_EVENT_CONTROLLER (drop_target));

  /* Capture phase, so that an image is attached even when a text field has the focus. */
  controller = gtk_shortcut_controller_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (controller),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_v, GDK_CONTROL_MASK),
                                                          gtk_callback_action_new (_dispatch_window_paste_shortcut_cb, NULL, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  g_signal_connect_object (self->to_row, "changed", G_CALLBACK (address_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->cc_row, "changed", G_CALLBACK (address_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->bcc_row, "changed", G_CALLBACK (address_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->subject_row, "changed", G_CALLBACK (subject_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (gtk_text_view_get_buffer (self->body_view), "changed",
                           G_CALLBACK (_dispatch_window_draft_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->cc_bcc_button, "toggled", G_CALLBACK (_dispatch_window_draft_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);

  apply_transcript_layout (self);
  g_signal_connect (self, "notify::default-width", G_CALLBACK (default_width_changed_cb), NULL);

  update_from_row (self);
}

DispatchWindow *
dispatch_window_new (GtkApplication *application)
{
  g_return_val_if_fail (!application || GTK_IS_APPLICATION (application), NULL);

  return g_object_new (DISPATCH_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

DispatchWindow *
dispatch_window_new_for_draft (GtkApplication *application,
                               const char     *draft_path)
{
  g_return_val_if_fail (!application || GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (draft_path != NULL, NULL);

  return g_object_new (DISPATCH_TYPE_WINDOW,
                       "application", application,
                       "draft-path", draft_path,
                       NULL);
}

gboolean
dispatch_window_is_blank (DispatchWindow *self)
{
  g_return_val_if_fail (DISPATCH_IS_WINDOW (self), FALSE);

  return !_dispatch_window_is_disposed (self) && self->session == NULL &&
         _dispatch_window_form_is_empty (self);
}

void
dispatch_window_prefill (DispatchWindow *self,
                         const char     *to,
                         const char     *cc,
                         const char     *bcc,
                         const char     *subject,
                         const char     *body)
{
  g_return_if_fail (DISPATCH_IS_WINDOW (self));

  if (to != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->to_row), to);
  if (cc != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->cc_row), cc);
  if (bcc != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->bcc_row), bcc);
  if ((cc != NULL && cc[0] != '\0') || (bcc != NULL && bcc[0] != '\0'))
    gtk_toggle_button_set_active (self->cc_bcc_button, TRUE);
  if (subject != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->subject_row), subject);
  if (body != NULL)
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->body_view), body, -1);

  /* A link with the recipient filled in wants the subject or the text next. */
  if (to != NULL && to[0] != '\0' && subject != NULL)
    gtk_widget_grab_focus (GTK_WIDGET (self->body_view));
  else if (to != NULL && to[0] != '\0')
    gtk_widget_grab_focus (GTK_WIDGET (self->subject_row));
}

gboolean
dispatch_window_is_sending (DispatchWindow *self)
{
  g_return_val_if_fail (DISPATCH_IS_WINDOW (self), FALSE);

  return self->session != NULL;
}
