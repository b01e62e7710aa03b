/* dispatch-window-actions.c — the window's actions: send and cancel, results, attach, paste, export.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-secret.h"
#include "dispatch-settings.h"
#include "dispatch-window-private.h"

#define SOURCE_ATTACHMENT_MAX (16 * 1024)

static void start_send (DispatchWindow *self);


/* Attaching */

static void
attach_response_cb (GtkNativeDialog *dialog,
                    int              response,
                    DispatchWindow  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));

      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        {
          g_autoptr(GFile) file = g_list_model_get_item (files, i);

          dispatch_window_add_attachment (self, file);
        }
    }

  g_object_unref (dialog);
}

static void
attach_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  GtkFileChooserNative *native;

  native = gtk_file_chooser_native_new (_("Attach Files"),
                                        GTK_WINDOW (widget),
                                        GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Attach"),
                                        _("_Cancel"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (native), TRUE);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect_object (native, "response", G_CALLBACK (attach_response_cb), widget, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}


/* Pasting images */

typedef struct
{
  GdkTexture *texture;
  GFile      *file;
} PastedImage;

static void
pasted_image_free (PastedImage *pasted)
{
  g_clear_object (&pasted->texture);
  g_clear_object (&pasted->file);
  g_free (pasted);
}

/* A screenshot can be tens of megapixels: PNG encoding is a worker thread's job. */
static void
save_pasted_image_thread (GTask        *task,
                          gpointer      source_object,
                          gpointer      task_data,
                          GCancellable *cancellable)
{
  PastedImage *pasted = task_data;
  g_autoptr(GBytes) png = gdk_texture_save_to_png_bytes (pasted->texture);
  g_autoptr(GFile) parent = g_file_get_parent (pasted->file);
  g_autoptr(GError) error = NULL;

  g_file_make_directory_with_parents (parent, cancellable, NULL);

  if (!g_file_replace_contents (pasted->file,
                                g_bytes_get_data (png, NULL), g_bytes_get_size (png),
                                NULL, FALSE,
                                G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                NULL, cancellable, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
pasted_image_saved_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  DispatchWindow *self = DISPATCH_WINDOW (object);
  PastedImage *pasted = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_autofree char *message = NULL;

      /* Translators: %s is the reason from the system */
      message = g_strdup_printf (_("The pasted image could not be saved: %s"), error->message);
      _dispatch_window_toast (self, message);
      return;
    }

  dispatch_window_add_attachment (self, pasted->file);
}

static void
paste_texture_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(DispatchWindow) self = user_data;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *name = NULL;
  PastedImage *pasted;

  texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (object), result, &error);
  if (texture == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _dispatch_window_toast (self, _("The clipboard has no image to paste"));
      return;
    }

  now = g_date_time_new_now_local ();
  stamp = g_date_time_format (now, "%Y-%m-%d %H.%M.%S");

  /* Translators: file name of an image pasted from the clipboard; %s is date and time */
  name = g_strdup_printf (_("Pasted image %s.png"), stamp);
  if (self->paste_counter++ > 0)
    {
      g_free (name);
      /* Translators: as above, with a number to tell images pasted in one session apart */
      name = g_strdup_printf (_("Pasted image %s (%u).png"), stamp, self->paste_counter);
    }

  pasted = g_new0 (PastedImage, 1);
  pasted->texture = g_steal_pointer (&texture);
  pasted->file = g_file_new_build_filename (g_get_user_cache_dir (), "dispatch", name, NULL);

  task = g_task_new (self, NULL, pasted_image_saved_cb, NULL);
  g_task_set_source_tag (task, paste_texture_cb);
  g_task_set_task_data (task, pasted, (GDestroyNotify) pasted_image_free);
  g_task_run_in_thread (task, save_pasted_image_thread);
}

static gboolean
clipboard_has_image (GdkClipboard *clipboard,
                     gboolean     *has_text)
{
  g_autoptr(GdkContentFormats) formats = NULL;

  /* Other applications offer MIME types; GTK tells which of them it can turn into a texture. */
  formats = gdk_content_formats_union_deserialize_gtypes (gdk_content_formats_ref (gdk_clipboard_get_formats (clipboard)));

  if (has_text != NULL)
    *has_text = gdk_content_formats_contain_gtype (formats, G_TYPE_STRING);

  return gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE);
}

static void
paste_image_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (widget);

  if (!clipboard_has_image (clipboard, NULL))
    {
      _dispatch_window_toast (DISPATCH_WINDOW (widget), _("The clipboard has no image to paste"));
      return;
    }

  gdk_clipboard_read_texture_async (clipboard, NULL, paste_texture_cb, g_object_ref (widget));
}

/* Ctrl+V anywhere: an image becomes an attachment; text goes on to the focused field. */
gboolean
_dispatch_window_paste_shortcut_cb (GtkWidget *widget,
                                    GVariant  *args,
                                    gpointer   user_data)
{
  DispatchWindow *self = DISPATCH_WINDOW (widget);
  gboolean has_text = FALSE;

  if (self->session != NULL ||
      !clipboard_has_image (gtk_widget_get_clipboard (widget), &has_text) ||
      has_text)
    return FALSE;

  gtk_widget_activate_action (widget, "win.paste-image", NULL);
  return TRUE;
}


/* The result card */

/* Once the card has faded out, the form takes its room back. */
static void
result_revealed_cb (DispatchWindow *self)
{
  if (!gtk_revealer_get_child_revealed (self->result_revealer) &&
      !gtk_revealer_get_reveal_child (self->result_revealer))
    gtk_widget_set_visible (GTK_WIDGET (self->result_revealer), FALSE);
}

static void
clear_result (DispatchWindow *self)
{
  GtkWidget *child;

  gtk_revealer_set_reveal_child (self->result_revealer, FALSE);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->result_details))) != NULL)
    gtk_grid_remove (self->result_details, child);

  gtk_widget_remove_css_class (GTK_WIDGET (self->result_card), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->result_card), "warning");
  gtk_widget_remove_css_class (GTK_WIDGET (self->result_card), "error");
}

static void
add_result_detail (DispatchWindow *self,
                   const char     *key,
                   const char     *value,
                   gboolean        monospace)
{
  GtkWidget *key_label;
  GtkWidget *value_label;
  int row = 0;

  if (value == NULL || value[0] == '\0')
    return;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->result_details));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    row++;
  row /= 2;

  key_label = g_object_new (GTK_TYPE_LABEL,
                            "label", key,
                            "xalign", 0.0f,
                            "yalign", 0.0f,
                            NULL);
  gtk_widget_add_css_class (key_label, "dim-label");

  value_label = g_object_new (GTK_TYPE_LABEL,
                              "label", value,
                              "xalign", 0.0f,
                              "wrap", TRUE,
                              "wrap-mode", PANGO_WRAP_WORD_CHAR,
                              "selectable", TRUE,
                              "hexpand", TRUE,
                              NULL);
  if (monospace)
    gtk_widget_add_css_class (value_label, "monospace");

  gtk_grid_attach (self->result_details, key_label, 0, row, 1, 1);
  gtk_grid_attach (self->result_details, value_label, 1, row, 1, 1);
}

static void
show_result (DispatchWindow *self,
             const char     *style,
             const char     *icon_name,
             const char     *title,
             const char     *description,
             const char     *hint)
{
  GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (self->compose_scroller);

  gtk_widget_set_visible (GTK_WIDGET (self->result_revealer), TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->result_card), style);
  gtk_image_set_from_icon_name (self->result_icon, icon_name);
  gtk_label_set_text (self->result_title, title);
  gtk_label_set_text (self->result_description, description ? description : "");
  gtk_widget_set_visible (GTK_WIDGET (self->result_description), description && description[0]);
  gtk_label_set_text (self->result_hint, hint ? hint : "");
  gtk_widget_set_visible (GTK_WIDGET (self->result_hint), hint && hint[0]);
  gtk_revealer_set_reveal_child (self->result_revealer, TRUE);
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_lower (adjustment));
}

static char *
join_recipients (GPtrArray *recipients,
                 gboolean   with_reply)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; recipients != NULL && i < recipients->len; i++)
    {
      const DispatchSmtpRecipient *recipient = g_ptr_array_index (recipients, i);

      if (text->len > 0)
        g_string_append (text, with_reply ? "\n" : ", ");

      g_string_append (text, recipient->address);
      if (with_reply && recipient->reply != NULL)
        g_string_append_printf (text, " — %s", recipient->reply);
    }

  return g_string_free (text, FALSE);
}

static void
show_success (DispatchWindow           *self,
              const DispatchSmtpResult *result)
{
  g_autofree char *accepted = join_recipients (result->accepted, FALSE);
  g_autofree char *refused = join_recipients (result->refused, TRUE);
  g_autofree char *encryption = NULL;
  guint n_refused = result->refused ? result->refused->len : 0;

  clear_result (self);

  if (result->tls_version != NULL && result->tls_cipher != NULL)
    encryption = g_strdup_printf ("%s · %s", result->tls_version, result->tls_cipher);
  else if (result->tls_version != NULL)
    encryption = g_strdup (result->tls_version);
  else
    encryption = g_strdup (_("None — the message crossed the network unencrypted"));

  add_result_detail (self, _("Server reply"), result->final_reply, TRUE);
  add_result_detail (self, _("Queued as"), result->queue_id, TRUE);
  add_result_detail (self, _("Accepted"), accepted, FALSE);
  add_result_detail (self, _("Refused"), refused, FALSE);
  add_result_detail (self, _("Encryption"), encryption, FALSE);
  add_result_detail (self, _("Signed in with"), result->auth_mechanism, FALSE);

  if (n_refused == 0)
    {
      show_result (self, "success", "emblem-ok-symbolic", _("Message sent"),
                   _("The server accepted the message for delivery."), NULL);
      _dispatch_window_toast (self, _("Message sent"));
    }
  else
    {
      g_autofree char *description = NULL;
      g_autofree char *toast_title = NULL;

      description = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                  "The server refused %u recipient; everyone else will get the message.",
                                                  "The server refused %u recipients; everyone else will get the message.",
                                                  n_refused),
                                     n_refused);
      toast_title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                  "Message sent, but %u recipient was refused",
                                                  "Message sent, but %u recipients were refused",
                                                  n_refused),
                                     n_refused);
      show_result (self, "warning", "dialog-warning-symbolic",
                   _("Message sent, but not to everyone"), description, NULL);
      _dispatch_window_toast (self, toast_title);
    }
}

static const char *
error_title (const GError *error)
{
  if (error->domain != DISPATCH_ERROR)
    return _("The message could not be sent");

  switch ((DispatchError) error->code)
    {
    case DISPATCH_ERROR_INVALID_INPUT:
      return _("The message cannot be sent as it is");
    case DISPATCH_ERROR_FILE:
      return _("An attachment cannot be read");
    case DISPATCH_ERROR_HOST_NOT_FOUND:
      return _("The server was not found");
    case DISPATCH_ERROR_UNAVAILABLE:
      return _("The server is not available");
    case DISPATCH_ERROR_TEMPORARY:
      return _("The server is busy; try again later");
    case DISPATCH_ERROR_TIMEOUT:
      return _("The server did not answer in time");
    case DISPATCH_ERROR_CONNECTION_LOST:
      return _("The connection to the server was lost");
    case DISPATCH_ERROR_PROTOCOL:
      return _("The server gave an answer Dispatch does not understand");
    case DISPATCH_ERROR_TLS_NOT_OFFERED:
      return _("The server does not offer encryption");
    case DISPATCH_ERROR_TLS_FAILED:
      return _("A secure connection could not be set up");
    case DISPATCH_ERROR_CERTIFICATE_UNTRUSTED:
      return _("The server’s certificate is not trusted");
    case DISPATCH_ERROR_STARTTLS_INJECTION:
      return _("The connection was tampered with");
    case DISPATCH_ERROR_AUTH_UNAVAILABLE:
      return _("Signing in is not possible");
    case DISPATCH_ERROR_AUTH_FAILED:
      return _("Signing in failed");
    case DISPATCH_ERROR_SENDER_REFUSED:
      return _("The server refused the sender address");
    case DISPATCH_ERROR_RECIPIENTS_REFUSED:
      return _("The server refused every recipient");
    case DISPATCH_ERROR_MESSAGE_TOO_LARGE:
      return _("The message is too large for this server");
    case DISPATCH_ERROR_MESSAGE_REFUSED:
      return _("The server refused the message");
    case DISPATCH_ERROR_FAILED:
    default:
      return _("The message could not be sent");
    }
}

static void
show_failure (DispatchWindow *self,
              const GError   *error)
{
  const char *reply = NULL;
  const char *hint = NULL;
  const char *title;
  const char *description;

  clear_result (self);

  if (error->domain == DISPATCH_ERROR)
    {
      reply = dispatch_error_get_reply (error);
      hint = dispatch_error_get_hint (error);
    }

  add_result_detail (self, _("Server reply"), reply, TRUE);
  if (error->domain == DISPATCH_ERROR && dispatch_error_get_stage (error) != DISPATCH_SMTP_STAGE_NONE)
    add_result_detail (self, _("Step"), dispatch_smtp_stage_to_string (dispatch_error_get_stage (error)), FALSE);

  title = error_title (error);
  description = error->message;

  /* The engine's sentence often says no more than the title; then once is enough. */
  if (g_ascii_strncasecmp (description, title, strlen (title)) == 0 &&
      (description[strlen (title)] == '\0' || g_str_equal (description + strlen (title), ".")))
    description = NULL;

  show_result (self, "error", "dialog-error-symbolic", title, description,
               hint ? hint : _("Nothing was lost: change what is needed and send again."));
}


/* Certificates */

static char *
describe_certificate_flags (GTlsCertificateFlags flags)
{
  g_autoptr(GPtrArray) reasons = g_ptr_array_new ();

  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_ptr_array_add (reasons, _("it was issued by an authority this computer does not know"));
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_ptr_array_add (reasons, _("it was issued for a different server name"));
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    g_ptr_array_add (reasons, _("it is not valid yet"));
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    g_ptr_array_add (reasons, _("it has expired"));
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    g_ptr_array_add (reasons, _("it has been revoked"));
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    g_ptr_array_add (reasons, _("it uses insecure cryptography"));
  if (reasons->len == 0)
    g_ptr_array_add (reasons, _("it could not be checked"));

  g_ptr_array_add (reasons, NULL);

  /* Translators: separates the reasons a certificate is not trusted */
  return g_strjoinv (_(", and "), (char **) reasons->pdata);
}

/* "ab12…" → "AB:12:…", the way certificate viewers show it. */
static char *
format_fingerprint (const char *hex)
{
  GString *out = g_string_new (NULL);
  guint n = 0;

  for (const char *p = hex; p != NULL && *p != '\0'; p++)
    {
      if (!g_ascii_isxdigit (*p))
        continue;

      /* 16 bytes a line: a SHA-256 fits in two lines that are easy to compare. */
      if (n > 0 && n % 32 == 0)
        g_string_append_c (out, '\n');
      else if (n > 0 && n % 2 == 0)
        g_string_append_c (out, ':');

      g_string_append_c (out, g_ascii_toupper (*p));
      n++;
    }

  return g_string_free (out, FALSE);
}

static void
add_grid_row (GtkGrid    *grid,
              int         row,
              const char *key,
              const char *value,
              gboolean    monospace)
{
  GtkWidget *key_label;
  GtkWidget *value_label;

  key_label = g_object_new (GTK_TYPE_LABEL, "label", key, "xalign", 0.0f, "yalign", 0.0f, NULL);
  gtk_widget_add_css_class (key_label, "dim-label");
  /* No wrapping: wrapped labels beside each other make the dialog guess a tall size. */
  value_label = g_object_new (GTK_TYPE_LABEL,
                              "label", value ? value : "",
                              "xalign", 0.0f,
                              "selectable", TRUE,
                              "ellipsize", monospace ? PANGO_ELLIPSIZE_NONE : PANGO_ELLIPSIZE_END,
                              "max-width-chars", 48,
                              "tooltip-text", value,
                              NULL);
  if (monospace)
    gtk_widget_add_css_class (value_label, "monospace");

  gtk_grid_attach (grid, key_label, 0, row, 1, 1);
  gtk_grid_attach (grid, value_label, 1, row, 1, 1);
}

static char *
format_date (GDateTime *date_time)
{
  if (date_time == NULL)
    return g_strdup (_("unknown"));

  return g_date_time_format (date_time, "%Y-%m-%d");
}

static void
certificate_response_cb (AdwMessageDialog *dialog,
                         const char       *response,
                         DispatchWindow   *self)
{
  const char *host = g_object_get_data (G_OBJECT (dialog), "host");
  guint port = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (dialog), "port"));
  const char *fingerprint = g_object_get_data (G_OBJECT (dialog), "fingerprint");

  if (g_strcmp0 (response, "trust") != 0 || fingerprint == NULL)
    return;

  dispatch_settings_set_pin (self->settings, host, port, fingerprint);
  start_send (self);
}

static void
show_certificate_dialog (DispatchWindow *self,
                         const GError   *error)
{
  GTlsCertificate *certificate = dispatch_error_get_certificate (error);
  GTlsCertificateFlags flags = dispatch_error_get_certificate_flags (error);
  const char *fingerprint = dispatch_error_get_fingerprint (error);
  const char *host = dispatch_account_get_host (self->account);
  guint port = dispatch_account_get_effective_port (self->account);
  g_autofree char *reasons = describe_certificate_flags (flags);
  g_autofree char *pretty_fingerprint = format_fingerprint (fingerprint);
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autofree char *validity = NULL;
  GtkWidget *dialog;
  GtkWidget *grid;

  if (certificate != NULL)
    {
      g_autoptr(GDateTime) not_before = g_tls_certificate_get_not_valid_before (certificate);
      g_autoptr(GDateTime) not_after = g_tls_certificate_get_not_valid_after (certificate);
      g_autofree char *from = format_date (not_before);
      g_autofree char *until = format_date (not_after);

      subject = g_tls_certificate_get_subject_name (certificate);
      issuer = g_tls_certificate_get_issuer_name (certificate);
      /* Translators: validity period of a certificate: "from 01/02/24 to 01/02/25" */
      validity = g_strdup_printf (_("from %s to %s"), from, until);
    }

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Untrusted Certificate"), NULL);
  /* Translators: %s:%u is the server, the last %s the reasons ("it has expired") */
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  _("The certificate of %s:%u is not trusted: %s. Trust it only if you know this server uses exactly this certificate, such as a test server of your own."),
                                  host, port, reasons);

  grid = g_object_new (GTK_TYPE_GRID, "column-spacing", 12, "row-spacing", 6, NULL);
  /* Translators: the certificate's subject, the entity it was issued to — not a message subject */
  add_grid_row (GTK_GRID (grid), 0, C_("certificate", "Subject"), subject ? subject : _("unknown"), FALSE);
  add_grid_row (GTK_GRID (grid), 1, _("Issuer"), issuer ? issuer : _("unknown"), FALSE);
  add_grid_row (GTK_GRID (grid), 2, _("Valid"), validity ? validity : _("unknown"), FALSE);
  add_grid_row (GTK_GRID (grid), 3, _("SHA-256"), pretty_fingerprint, TRUE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), grid);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "trust", _("_Trust for This Server"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "trust", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "trust", fingerprint != NULL);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");

  g_object_set_data_full (G_OBJECT (dialog), "host", g_strdup (host), g_free);
  g_object_set_data (G_OBJECT (dialog), "port", GUINT_TO_POINTER (port));
  g_object_set_data_full (G_OBJECT (dialog), "fingerprint", g_strdup (fingerprint), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (certificate_response_cb), self, 0);

  gtk_window_present (GTK_WINDOW (dialog));
}


/* Sending */

static void
set_phase (DispatchWindow *self,
           const char     *phase)
{
  gtk_label_set_text (self->phase_label, phase);
}

static const char *
phase_for_state (DispatchSmtpState state)
{
  switch (state)
    {
    case DISPATCH_SMTP_STATE_CONNECTING:
    case DISPATCH_SMTP_STATE_HELLO:
      return _("Connecting…");
    case DISPATCH_SMTP_STATE_SECURING:
      return _("Securing the connection…");
    case DISPATCH_SMTP_STATE_AUTHENTICATING:
      return _("Signing in…");
    case DISPATCH_SMTP_STATE_SENDING_ENVELOPE:
    case DISPATCH_SMTP_STATE_SENDING_DATA:
      return _("Sending…");
    case DISPATCH_SMTP_STATE_QUITTING:
      return _("Finishing…");
    case DISPATCH_SMTP_STATE_DONE:
      return _("Sent");
    case DISPATCH_SMTP_STATE_FAILED:
      return _("Not sent");
    case DISPATCH_SMTP_STATE_IDLE:
    default:
      return "";
    }
}

static void
session_state_changed_cb (DispatchSmtpSession *session,
                          DispatchSmtpState    state,
                          DispatchWindow      *self)
{
  /* Sending with progress has its own, more precise label. */
  if (state != DISPATCH_SMTP_STATE_SENDING_DATA)
    set_phase (self, phase_for_state (state));
}

static void
session_transcript_cb (DispatchSmtpSession   *session,
                       DispatchSmtpDirection  direction,
                       const char            *line,
                       DispatchWindow        *self)
{
  dispatch_transcript_view_append (self->transcript_view, direction, line);
}

/* Until the message bytes flow there is nothing to measure, only to show that it is alive. */
static gboolean
pulse_cb (gpointer user_data)
{
  DispatchWindow *self = user_data;

  gtk_progress_bar_pulse (self->progress_bar);
  return G_SOURCE_CONTINUE;
}

static void
session_progress_cb (DispatchSmtpSession *session,
                     guint64              sent,
                     guint64              total,
                     DispatchWindow      *self)
{
  g_autofree char *phase = NULL;
  double fraction = total > 0 ? CLAMP ((double) sent / (double) total, 0.0, 1.0) : 0.0;

  g_clear_handle_id (&self->pulse_id, g_source_remove);
  gtk_progress_bar_set_fraction (self->progress_bar, fraction);
  /* Translators: %u is a percentage, %% the percent sign: "Sending 42 %…" */
  phase = g_strdup_printf (_("Sending %u %%…"), (guint) (fraction * 100.0));
  set_phase (self, phase);
}

/* Back to idle: the session may still be winding down in its thread, but nothing it says
 * reaches the window any more. */
static void
end_sending (DispatchWindow *self)
{
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);

  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->pulse_id, g_source_remove);
  gtk_revealer_set_reveal_child (self->status_revealer, FALSE);
  _dispatch_window_update_actions (self);
}

static void
send_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(DispatchWindow) self = user_data;
  DispatchSmtpSession *session = DISPATCH_SMTP_SESSION (object);
  g_autoptr(DispatchSmtpResult) smtp_result = NULL;
  g_autoptr(GError) error = NULL;

  smtp_result = dispatch_smtp_session_send_finish (session, result, &error);

  /* Cancelled (and perhaps sent again) meanwhile: this outcome is nobody's business. */
  if (session != self->session)
    return;

  end_sending (self);

  if (smtp_result != NULL)
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
      set_phase (self, _("Sent"));
      show_success (self, smtp_result);
      _dispatch_window_draft_delete (self);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    set_phase (self, _("Cancelled"));
  else
    {
      set_phase (self, _("Not sent"));
      show_failure (self, error);

      if (g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_CERTIFICATE_UNTRUSTED))
        show_certificate_dialog (self, error);
    }
}

static void
send_with_password (DispatchWindow *self,
                    const char     *password)
{
  g_autoptr(DispatchMessage) message = _dispatch_window_build_message (self);

  dispatch_smtp_session_send_async (self->session, self->account, password, NULL, message,
                                    self->cancellable, send_cb, g_object_ref (self));
}

static void
password_lookup_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(DispatchWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  char *password;

  password = dispatch_secret_lookup_finish (result, &error);

  /* Cancelled while the keyring was asked. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->session == NULL)
    {
      dispatch_secret_free (password);
      return;
    }

  if (error != NULL || password == NULL)
    {
      g_autoptr(GError) failure = NULL;

      if (error != NULL)
        dispatch_set_error (&failure, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_NONE, NULL,
                            _("Make sure a keyring (Secret Service) is running, then enter the password again in the account settings."),
                            _("The password could not be read from the keyring: %s"), error->message);
      else
        dispatch_set_error (&failure, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_NONE, NULL,
                            _("Enter the password in the account settings, or clear the user name to send without signing in."),
                            _("No password is stored for %s on %s."),
                            dispatch_account_get_user (self->account),
                            dispatch_account_get_host (self->account));

      end_sending (self);
      set_phase (self, _("Not sent"));
      show_failure (self, failure);
      return;
    }

  send_with_password (self, password);
  dispatch_secret_free (password);
}

static void
start_send (DispatchWindow *self)
{
  const char *user;

  if (self->session != NULL || !_dispatch_window_check_form (self, TRUE))
    return;

  g_clear_object (&self->account);
  self->account = dispatch_settings_create_account (self->settings);
  self->session = dispatch_smtp_session_new ();
  self->cancellable = g_cancellable_new ();

  g_signal_connect (self->session, "state-changed", G_CALLBACK (session_state_changed_cb), self);
  g_signal_connect (self->session, "transcript", G_CALLBACK (session_transcript_cb), self);
  g_signal_connect (self->session, "progress", G_CALLBACK (session_progress_cb), self);

  clear_result (self);
  dispatch_transcript_view_clear (self->transcript_view);
  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  g_clear_handle_id (&self->pulse_id, g_source_remove);
  self->pulse_id = g_timeout_add (150, pulse_cb, self);
  set_phase (self, _("Connecting…"));
  gtk_revealer_set_reveal_child (self->status_revealer, TRUE);
  _dispatch_window_update_actions (self);

  user = dispatch_account_get_user (self->account);
  if (user != NULL && user[0] != '\0')
    dispatch_secret_lookup_async (dispatch_account_get_host (self->account),
                                  dispatch_account_get_effective_port (self->account),
                                  user,
                                  self->cancellable,
                                  password_lookup_cb,
                                  g_object_ref (self));
  else
    send_with_password (self, NULL);
}

static void
send_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  start_send (DISPATCH_WINDOW (widget));
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  DispatchWindow *self = DISPATCH_WINDOW (widget);

  if (self->session == NULL)
    return;

  /* The worker notices at its next blocking call; the window does not wait for it. */
  g_cancellable_cancel (self->cancellable);
  end_sending (self);
  dispatch_transcript_view_append (self->transcript_view, DISPATCH_SMTP_DIRECTION_INFO,
                                   _("Cancelled"));
  set_phase (self, _("Cancelled"));
}


/* Menu actions */

typedef struct
{
  DispatchMessage *message;
  GFile           *file;     /* for .eml; NULL for the source view */
} ExportData;

static void
export_data_free (ExportData *data)
{
  g_clear_object (&data->message);
  g_clear_object (&data->file);
  g_free (data);
}

/* Building and writing the message reads every attachment: a worker thread's job. */
static void
export_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ExportData *data = task_data;
  g_autoptr(GError) error = NULL;

  if (!dispatch_message_prepare (data->message, FALSE, FALSE, cancellable, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (data->file != NULL)
    {
      if (!dispatch_message_write_to_file (data->message, data->file, cancellable, &error))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_pointer (task, g_file_get_basename (data->file), g_free);
    }
  else
    {
      char *source = dispatch_message_to_string (data->message, SOURCE_ATTACHMENT_MAX, &error);

      if (source == NULL)
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_pointer (task, source, g_free);
    }
}

static void
run_export (DispatchWindow      *self,
            GFile               *file,
            GAsyncReadyCallback  callback)
{
  g_autoptr(GTask) task = NULL;
  ExportData *data = g_new0 (ExportData, 1);

  data->message = _dispatch_window_build_message (self);
  data->file = file ? g_object_ref (file) : NULL;

  task = g_task_new (self, NULL, callback, NULL);
  g_task_set_source_tag (task, run_export);
  g_task_set_task_data (task, data, (GDestroyNotify) export_data_free);
  g_task_run_in_thread (task, export_thread);
}

static void
save_eml_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  DispatchWindow *self = DISPATCH_WINDOW (object);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *message = NULL;

  name = g_task_propagate_pointer (G_TASK (result), &error);
  if (name == NULL)
    /* Translators: %s says why */
    message = g_strdup_printf (_("The message could not be saved: %s"), error->message);
  else
    /* Translators: %s is a file name */
    message = g_strdup_printf (_("Saved as “%s”"), name);

  _dispatch_window_toast (self, message);
}

void
dispatch_window_save_message (DispatchWindow *self,
                              GFile          *file)
{
  g_return_if_fail (DISPATCH_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  run_export (self, file, save_eml_cb);
}

static void
save_eml_response_cb (GtkNativeDialog *dialog,
                      int              response,
                      DispatchWindow  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      dispatch_window_save_message (self, file);
    }

  g_object_unref (dialog);
}

static void
save_eml_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *param)
{
  DispatchWindow *self = DISPATCH_WINDOW (widget);
  GtkFileChooserNative *native;
  g_autofree char *name = NULL;
  const char *subject = _dispatch_window_row_text (self->subject_row);

  native = gtk_file_chooser_native_new (_("Save Message"),
                                        GTK_WINDOW (widget),
                                        GTK_FILE_CHOOSER_ACTION_SAVE,
                                        _("_Save"),
                                        _("_Cancel"));

  if (subject[0] != '\0')
    {
      name = g_strdup_printf ("%s.eml", subject);
      g_strdelimit (name, "/\\:", '-');
    }
  else
    /* Translators: default file name of a saved message */
    name = g_strdup (_("message.eml"));

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), name);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect_object (native, "response", G_CALLBACK (save_eml_response_cb), widget, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static void
view_source_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  DispatchWindow *self = DISPATCH_WINDOW (object);
  g_autoptr(GError) error = NULL;
  g_autofree char *source = NULL;
  GtkWidget *window;
  GtkWidget *box;
  GtkWidget *scroller;
  GtkWidget *text_view;

  source = g_task_propagate_pointer (G_TASK (result), &error);
  if (_dispatch_window_is_disposed (self))
    return;

  if (source == NULL)
    {
      g_autofree char *message = NULL;

      /* Translators: %s says why */
      message = g_strdup_printf (_("The message source cannot be shown: %s"), error->message);
      _dispatch_window_toast (self, message);
      return;
    }

  text_view = g_object_new (GTK_TYPE_TEXT_VIEW,
                            "editable", FALSE,
                            "monospace", TRUE,
                            "wrap-mode", GTK_WRAP_CHAR,
                            "left-margin", 12,
                            "right-margin", 12,
                            "top-margin", 12,
                            "bottom-margin", 12,
                            NULL);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (text_view)), source, -1);
  scroller = g_object_new (GTK_TYPE_SCROLLED_WINDOW, "child", text_view, "vexpand", TRUE, NULL);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  gtk_box_append (GTK_BOX (box), scroller);

  window = g_object_new (ADW_TYPE_WINDOW,
                         "title", _("Message Source"),
                         "transient-for", self,
                         "modal", TRUE,
                         "default-width", 760,
                         "default-height", 600,
                         "content", box,
                         NULL);
  gtk_window_present (GTK_WINDOW (window));
}

static void
view_source_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  run_export (DISPATCH_WINDOW (widget), NULL, view_source_cb);
}

static void
undo_discard_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *param)
{
  DispatchWindow *self = DISPATCH_WINDOW (widget);
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autofree char *discarded = g_steal_pointer (&self->discarded);

  if (discarded == NULL ||
      !g_key_file_load_from_data (key_file, discarded, (gsize) -1, G_KEY_FILE_NONE, NULL))
    return;

  _dispatch_window_draft_restore (self, key_file);
  _dispatch_window_draft_changed (self);
}

static void
new_message_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  DispatchWindow *self = DISPATCH_WINDOW (widget);
  g_autoptr(GKeyFile) empty = g_key_file_new ();
  gboolean had_content = !_dispatch_window_form_is_empty (self);
  AdwToast *discarded_toast;

  g_free (self->discarded);
  self->discarded = had_content ? _dispatch_window_draft_serialize (self, NULL) : NULL;

  _dispatch_window_draft_restore (self, empty);
  clear_result (self);
  dispatch_transcript_view_clear (self->transcript_view);
  set_phase (self, "");
  _dispatch_window_draft_delete (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->to_row));

  if (!had_content)
    return;

  discarded_toast = adw_toast_new (_("Message discarded"));
  adw_toast_set_button_label (discarded_toast, _("_Undo"));
  adw_toast_set_action_name (discarded_toast, "win.undo-discard");
  adw_toast_overlay_add_toast (self->toast_overlay, discarded_toast);
}

static void
dismiss_result_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *param)
{
  clear_result (DISPATCH_WINDOW (widget));
}

void
_dispatch_window_class_actions_init (DispatchWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_bind_template_callback (widget_class, result_revealed_cb);

  gtk_widget_class_install_action (widget_class, "win.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "win.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "win.attach", NULL, attach_action);
  gtk_widget_class_install_action (widget_class, "win.paste-image", NULL, paste_image_action);
  gtk_widget_class_install_action (widget_class, "win.new-message", NULL, new_message_action);
  gtk_widget_class_install_action (widget_class, "win.undo-discard", NULL, undo_discard_action);
  gtk_widget_class_install_action (widget_class, "win.save-eml", NULL, save_eml_action);
  gtk_widget_class_install_action (widget_class, "win.view-source", NULL, view_source_action);
  gtk_widget_class_install_action (widget_class, "win.dismiss-result", NULL, dismiss_result_action);
}
