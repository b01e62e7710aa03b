/* dispatch-certificate-dialog.c — an untrusted certificate, its fingerprint, and "Trust for This Server".
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One dialog for the window's Send and the account dialog's Test, so that a certificate looks
 * the same, and is trusted the same way, wherever it is met.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-certificate-dialog.h"
#include "dispatch-engine.h"

struct _DispatchCertificateDialog
{
  AdwMessageDialog  parent_instance;

  /* Owned */
  char             *host;
  guint             port;
  char             *fingerprint;
};

G_DEFINE_FINAL_TYPE (DispatchCertificateDialog, dispatch_certificate_dialog, ADW_TYPE_MESSAGE_DIALOG)

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

char *
dispatch_certificate_format_fingerprint (const char *hex)
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
dispatch_certificate_dialog_finalize (GObject *object)
{
  DispatchCertificateDialog *self = (DispatchCertificateDialog *)object;

  g_free (self->host);
  g_free (self->fingerprint);

  G_OBJECT_CLASS (dispatch_certificate_dialog_parent_class)->finalize (object);
}

static void
dispatch_certificate_dialog_class_init (DispatchCertificateDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = dispatch_certificate_dialog_finalize;
}

static void
dispatch_certificate_dialog_init (DispatchCertificateDialog *self)
{
}

GtkWidget *
dispatch_certificate_dialog_new (GtkWindow    *parent,
                                 const GError *error,
                                 const char   *host,
                                 guint         port)
{
  DispatchCertificateDialog *self;
  AdwMessageDialog *dialog;
  GTlsCertificate *certificate;
  g_autofree char *reasons = NULL;
  g_autofree char *pretty_fingerprint = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autofree char *validity = NULL;
  GtkWidget *grid;

  g_return_val_if_fail (error != NULL, NULL);
  g_return_val_if_fail (host != NULL, NULL);

  self = g_object_new (DISPATCH_TYPE_CERTIFICATE_DIALOG,
                       "transient-for", parent,
                       "modal", TRUE,
                       "heading", _("Untrusted Certificate"),
                       NULL);
  dialog = ADW_MESSAGE_DIALOG (self);
  self->host = g_strdup (host);
  self->port = port;

  certificate = error->domain == DISPATCH_ERROR ? dispatch_error_get_certificate (error) : NULL;
  reasons = describe_certificate_flags (error->domain == DISPATCH_ERROR ? dispatch_error_get_certificate_flags (error) : 0);
  if (error->domain == DISPATCH_ERROR)
    self->fingerprint = g_strdup (dispatch_error_get_fingerprint (error));
  pretty_fingerprint = dispatch_certificate_format_fingerprint (self->fingerprint);

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

  /* Translators: %s:%u is the server, the last %s the reasons ("it has expired") */
  adw_message_dialog_format_body (dialog,
                                  _("The certificate of %s:%u is not trusted: %s. Trust it only if you know this server uses exactly this certificate, such as a test server of your own."),
                                  host, port, reasons);

  grid = g_object_new (GTK_TYPE_GRID, "column-spacing", 12, "row-spacing", 6, NULL);
  /* Translators: the certificate's subject, the entity it was issued to — not a message subject */
  add_grid_row (GTK_GRID (grid), 0, C_("certificate", "Subject"), subject ? subject : _("unknown"), FALSE);
  add_grid_row (GTK_GRID (grid), 1, _("Issuer"), issuer ? issuer : _("unknown"), FALSE);
  add_grid_row (GTK_GRID (grid), 2, _("Valid"), validity ? validity : _("unknown"), FALSE);
  add_grid_row (GTK_GRID (grid), 3, _("SHA-256"), pretty_fingerprint, TRUE);
  adw_message_dialog_set_extra_child (dialog, grid);

  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "trust", _("_Trust for This Server"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "trust", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_enabled (dialog, "trust", self->fingerprint != NULL);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");

  return GTK_WIDGET (self);
}

const char *
dispatch_certificate_dialog_get_host (DispatchCertificateDialog *self)
{
  g_return_val_if_fail (DISPATCH_IS_CERTIFICATE_DIALOG (self), NULL);

  return self->host;
}

guint
dispatch_certificate_dialog_get_port (DispatchCertificateDialog *self)
{
  g_return_val_if_fail (DISPATCH_IS_CERTIFICATE_DIALOG (self), 0);

  return self->port;
}

const char *
dispatch_certificate_dialog_get_fingerprint (DispatchCertificateDialog *self)
{
  g_return_val_if_fail (DISPATCH_IS_CERTIFICATE_DIALOG (self), NULL);

  return self->fingerprint;
}
