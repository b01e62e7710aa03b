/* dispatch-smtp-trust.c — which server certificates a connection accepts, and why not.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-error.h"
#include "dispatch-smtp-certificate.h"
#include "dispatch-smtp-trust.h"

struct _DispatchSmtpTrust
{
  GObject parent_instance;

  char *ca_file;
  char *pinned_sha256;             /* normalised */

  /* Loaded by database_thread, read only after joining it. */
  GThread *database_thread;
  GTlsDatabase *database;
  GError *database_error;

  /* What the last watched handshake's certificate check saw. */
  GTlsCertificate *rejected_certificate;
  GTlsCertificateFlags rejected_flags;
};

G_DEFINE_FINAL_TYPE (DispatchSmtpTrust, dispatch_smtp_trust, G_TYPE_OBJECT)

static void
dispatch_smtp_trust_dispose (GObject *object)
{
  DispatchSmtpTrust *self = DISPATCH_SMTP_TRUST (object);

  g_clear_pointer (&self->database_thread, g_thread_join);
  g_clear_object (&self->database);
  g_clear_object (&self->rejected_certificate);

  G_OBJECT_CLASS (dispatch_smtp_trust_parent_class)->dispose (object);
}

static void
dispatch_smtp_trust_finalize (GObject *object)
{
  DispatchSmtpTrust *self = DISPATCH_SMTP_TRUST (object);

  g_free (self->ca_file);
  g_free (self->pinned_sha256);
  g_clear_error (&self->database_error);

  G_OBJECT_CLASS (dispatch_smtp_trust_parent_class)->finalize (object);
}

static void
dispatch_smtp_trust_class_init (DispatchSmtpTrustClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = dispatch_smtp_trust_dispose;
  object_class->finalize = dispatch_smtp_trust_finalize;
}

static void
dispatch_smtp_trust_init (DispatchSmtpTrust *self)
{
}

DispatchSmtpTrust *
dispatch_smtp_trust_new (const char *ca_file,
                         const char *pinned_sha256)
{
  DispatchSmtpTrust *self = g_object_new (DISPATCH_TYPE_SMTP_TRUST, NULL);

  self->ca_file = g_strdup (ca_file);
  self->pinned_sha256 = pinned_sha256 ? dispatch_smtp_normalize_sha256 (pinned_sha256) : NULL;
  return self;
}

static gpointer
load_database (gpointer data)
{
  DispatchSmtpTrust *self = data;

  if (self->ca_file != NULL)
    self->database = g_tls_file_database_new (self->ca_file, &self->database_error);
  else
    self->database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  return NULL;
}

void
dispatch_smtp_trust_prepare (DispatchSmtpTrust *self)
{
  g_return_if_fail (DISPATCH_IS_SMTP_TRUST (self));

  if (self->database_thread == NULL && self->database == NULL && self->database_error == NULL)
    self->database_thread = g_thread_new ("dispatch-trust", load_database, self);
}

GTlsDatabase *
dispatch_smtp_trust_get_database (DispatchSmtpTrust  *self,
                                  GError            **error)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_TRUST (self), NULL);

  dispatch_smtp_trust_prepare (self);
  g_clear_pointer (&self->database_thread, g_thread_join);
  if (self->database_error != NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_FILE, DISPATCH_SMTP_STAGE_TLS, NULL, NULL,
                          /* Translators: %s is a file name, then the reason */
                          _("Could not read the CA file %s: %s"), self->ca_file,
                          self->database_error->message);
      return NULL;
    }
  return self->database;
}

static gboolean
on_accept_certificate (GTlsConnection       *tls,
                       GTlsCertificate      *peer,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  DispatchSmtpTrust *self = user_data;
  g_autofree char *fingerprint = dispatch_smtp_certificate_sha256 (peer);

  /* A pin is the user's explicit trust in exactly this certificate for this server; it is the
   * only way past a failed validation. */
  if (self->pinned_sha256 != NULL && fingerprint != NULL &&
      g_str_equal (self->pinned_sha256, fingerprint))
    return TRUE;

  g_set_object (&self->rejected_certificate, peer);
  self->rejected_flags = errors;
  return FALSE;
}

void
dispatch_smtp_trust_watch (DispatchSmtpTrust *self,
                           GTlsConnection    *tls)
{
  g_return_if_fail (DISPATCH_IS_SMTP_TRUST (self));

  g_clear_object (&self->rejected_certificate);
  self->rejected_flags = 0;
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (on_accept_certificate), self);
}

void
dispatch_smtp_trust_unwatch (DispatchSmtpTrust *self,
                             GTlsConnection    *tls)
{
  g_return_if_fail (DISPATCH_IS_SMTP_TRUST (self));

  g_signal_handlers_disconnect_by_data (tls, self);
}

GTlsCertificate *
dispatch_smtp_trust_get_rejected (DispatchSmtpTrust    *self,
                                  GTlsCertificateFlags *flags)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_TRUST (self), NULL);

  if (flags != NULL)
    *flags = self->rejected_flags;
  return self->rejected_certificate;
}
