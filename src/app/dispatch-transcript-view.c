/* dispatch-transcript-view.c — the SMTP dialogue as it happens, client and server told apart.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "dispatch-transcript-view.h"

struct _DispatchTranscriptView
{
  GtkWidget       parent_instance;

  /* Template widgets */
  GtkOverlay     *overlay;
  GtkScrolledWindow *scroller;
  GtkTextView    *text_view;
  GtkLabel       *placeholder;

  /* Borrowed from the text buffer */
  GtkTextTag     *client_tag;
  GtkTextTag     *server_tag;
  GtkTextTag     *info_tag;
  GtkTextTag     *prefix_tag;

  guint           n_lines;
  guint           follow : 1;   /* keep the last line in view, until the reader scrolls up */
};

G_DEFINE_FINAL_TYPE (DispatchTranscriptView, dispatch_transcript_view, GTK_TYPE_WIDGET)

/* Colours from the GNOME palette, one set per style so that both stay readable. */
static void
update_colors (DispatchTranscriptView *self)
{
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());

  g_object_set (self->client_tag, "foreground", dark ? "#99c1f1" : "#1a5fb4", NULL);
  g_object_set (self->server_tag, "foreground", dark ? "#8ff0a4" : "#26794a", NULL);
  g_object_set (self->info_tag, "foreground", dark ? "#9a9996" : "#77767b", NULL);
}

static void
update_actions (DispatchTranscriptView *self)
{
  gboolean empty = self->n_lines == 0;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "transcript.copy", !empty);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "transcript.save", !empty);

  /* Empty, the text view is transparent and out of reach of pointer and Tab, under the
   * placeholder; it is never hidden (see the template). */
  gtk_widget_set_visible (GTK_WIDGET (self->placeholder), empty);
  gtk_widget_set_opacity (GTK_WIDGET (self->scroller), empty ? 0.0 : 1.0);
  gtk_widget_set_can_target (GTK_WIDGET (self->scroller), !empty);
  gtk_widget_set_focusable (GTK_WIDGET (self->text_view), !empty);
}

static void
toast (DispatchTranscriptView *self,
       const char             *title)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  /* Toast titles are Pango markup in libadwaita 1.2: a file named "R&D.txt" would blank it. */
  g_autofree char *escaped = g_markup_escape_text (title, -1);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (escaped));
}

static void
copy_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  DispatchTranscriptView *self = DISPATCH_TRANSCRIPT_VIEW (widget);
  g_autofree char *text = dispatch_transcript_view_dup_text (self);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
  toast (self, _("Transcript copied"));
}

static void
save_replace_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(DispatchTranscriptView) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    {
      g_autofree char *message = NULL;

      /* Translators: %s is the reason from the system */
      message = g_strdup_printf (_("The transcript could not be saved: %s"), error->message);
      toast (self, message);
      return;
    }

  toast (self, _("Transcript saved"));
}

static void
save_response_cb (GtkNativeDialog        *dialog,
                  int                     response,
                  DispatchTranscriptView *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      char *text = dispatch_transcript_view_dup_text (self);
      g_autoptr(GBytes) bytes = g_bytes_new_take (text, strlen (text));

      g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                                           NULL, save_replace_cb, g_object_ref (self));
    }

  g_object_unref (dialog);
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  GtkFileChooserNative *native;

  native = gtk_file_chooser_native_new (_("Save Transcript"),
                                        GTK_WINDOW (gtk_widget_get_root (widget)),
                                        GTK_FILE_CHOOSER_ACTION_SAVE,
                                        _("_Save"),
                                        _("_Cancel"));
  /* Translators: default file name of a saved transcript */
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), _("smtp-transcript.txt"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect_object (native, "response", G_CALLBACK (save_response_cb), widget, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static gboolean
is_scrolled_to_end (GtkAdjustment *adj)
{
  return gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj)
         >= gtk_adjustment_get_upper (adj) - 24.0;
}

/* Lines arrive faster than the text view lays them out: asking it to show the last line right
 * after inserting it scrolls to where that line is guessed to be, and a burst of lines (the
 * end of the data, 250, QUIT, 221) left the view short of the end. Following the adjustment
 * instead scrolls once the lines have their real height. */
static void
adjustment_changed_cb (DispatchTranscriptView *self,
                       GParamSpec             *pspec,
                       GtkAdjustment          *adj)
{
  if (self->follow)
    gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
}

/* Only the reader moves the view away from the end (our own scrolling lands on it). */
static void
value_changed_cb (DispatchTranscriptView *self,
                  GtkAdjustment          *adj)
{
  self->follow = is_scrolled_to_end (adj);
}

static void
dispatch_transcript_view_dispose (GObject *object)
{
  DispatchTranscriptView *self = (DispatchTranscriptView *)object;
  GtkWidget *child;

  gtk_widget_dispose_template (GTK_WIDGET (self), DISPATCH_TYPE_TRANSCRIPT_VIEW);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (dispatch_transcript_view_parent_class)->dispose (object);
}

static void
dispatch_transcript_view_class_init (DispatchTranscriptViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dispatch_transcript_view_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/dispatchmail/Dispatch/dispatch-transcript-view.ui");
  gtk_widget_class_bind_template_child (widget_class, DispatchTranscriptView, overlay);
  gtk_widget_class_bind_template_child (widget_class, DispatchTranscriptView, scroller);
  gtk_widget_class_bind_template_child (widget_class, DispatchTranscriptView, text_view);
  gtk_widget_class_bind_template_child (widget_class, DispatchTranscriptView, placeholder);

  gtk_widget_class_install_action (widget_class, "transcript.copy", NULL, copy_action);
  gtk_widget_class_install_action (widget_class, "transcript.save", NULL, save_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "transcriptview");
}

static void
dispatch_transcript_view_init (DispatchTranscriptView *self)
{
  GtkTextBuffer *buffer;
  GtkAdjustment *adj;

  gtk_widget_init_template (GTK_WIDGET (self));

  /* The pane asks for room for the placeholder too, as for the text. */
  gtk_overlay_set_measure_overlay (self->overlay, GTK_WIDGET (self->placeholder), TRUE);

  buffer = gtk_text_view_get_buffer (self->text_view);
  self->client_tag = gtk_text_buffer_create_tag (buffer, "client", NULL);
  self->server_tag = gtk_text_buffer_create_tag (buffer, "server", NULL);
  self->info_tag = gtk_text_buffer_create_tag (buffer, "info", "style", PANGO_STYLE_ITALIC, NULL);
  self->prefix_tag = gtk_text_buffer_create_tag (buffer, "prefix", "weight", PANGO_WEIGHT_BOLD, NULL);

  self->follow = TRUE;
  adj = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_object (adj, "notify::upper", G_CALLBACK (adjustment_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (adj, "notify::page-size", G_CALLBACK (adjustment_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (adj, "value-changed", G_CALLBACK (value_changed_cb), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (update_colors), self, G_CONNECT_SWAPPED);
  update_colors (self);
  update_actions (self);
}

GtkWidget *
dispatch_transcript_view_new (void)
{
  return g_object_new (DISPATCH_TYPE_TRANSCRIPT_VIEW, NULL);
}

void
dispatch_transcript_view_append (DispatchTranscriptView *self,
                                 DispatchSmtpDirection   direction,
                                 const char             *line)
{
  GtkTextBuffer *buffer;
  GtkTextTag *tag;
  GtkTextIter end;
  const char *prefix;
  gboolean follow;

  g_return_if_fail (DISPATCH_IS_TRANSCRIPT_VIEW (self));
  g_return_if_fail (line != NULL);

  switch (direction)
    {
    case DISPATCH_SMTP_DIRECTION_CLIENT:
      prefix = "C: ";
      tag = self->client_tag;
      break;

    case DISPATCH_SMTP_DIRECTION_SERVER:
      prefix = "S: ";
      tag = self->server_tag;
      break;

    case DISPATCH_SMTP_DIRECTION_INFO:
    default:
      prefix = "* ";
      tag = self->info_tag;
      break;
    }

  follow = self->n_lines == 0 || self->follow;
  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_end_iter (buffer, &end);

  if (self->n_lines > 0)
    gtk_text_buffer_insert (buffer, &end, "\n", 1);

  gtk_text_buffer_insert_with_tags (buffer, &end, prefix, -1, tag, self->prefix_tag, NULL);

  if (g_utf8_validate (line, -1, NULL))
    gtk_text_buffer_insert_with_tags (buffer, &end, line, -1, tag, NULL);
  else
    {
      g_autofree char *valid = g_utf8_make_valid (line, -1);

      gtk_text_buffer_insert_with_tags (buffer, &end, valid, -1, tag, NULL);
    }

  self->n_lines++;
  update_actions (self);

  if (follow)
    {
      GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);

      self->follow = TRUE;
      gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
    }
}

void
dispatch_transcript_view_clear (DispatchTranscriptView *self)
{
  g_return_if_fail (DISPATCH_IS_TRANSCRIPT_VIEW (self));

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
  self->n_lines = 0;
  self->follow = TRUE;
  update_actions (self);
}

char *
dispatch_transcript_view_dup_text (DispatchTranscriptView *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  g_autofree char *text = NULL;

  g_return_val_if_fail (DISPATCH_IS_TRANSCRIPT_VIEW (self), NULL);

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);

  if (self->n_lines == 0)
    return g_steal_pointer (&text);

  return g_strconcat (text, "\n", NULL);
}

guint
dispatch_transcript_view_get_n_lines (DispatchTranscriptView *self)
{
  g_return_val_if_fail (DISPATCH_IS_TRANSCRIPT_VIEW (self), 0);

  return self->n_lines;
}
