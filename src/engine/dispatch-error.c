/* dispatch-error.c — the engine's error domain, carrying stage, server reply, hint and certificate.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-error.h"

/* GLib's extended errors let every GError of the domain carry these fields; they are copied and
 * freed with the GError itself. */
typedef struct
{
  DispatchSmtpStage     stage;
  char                 *reply;
  char                 *hint;
  GTlsCertificate      *certificate;
  GTlsCertificateFlags  certificate_flags;
  char                 *fingerprint;
} DispatchErrorPrivate;

static void
dispatch_error_private_init (DispatchErrorPrivate *priv)
{
  priv->stage = DISPATCH_SMTP_STAGE_NONE;
}

static void
dispatch_error_private_copy (const DispatchErrorPrivate *src,
                             DispatchErrorPrivate       *dest)
{
  dest->stage = src->stage;
  dest->reply = g_strdup (src->reply);
  dest->hint = g_strdup (src->hint);
  dest->certificate = src->certificate ? g_object_ref (src->certificate) : NULL;
  dest->certificate_flags = src->certificate_flags;
  dest->fingerprint = g_strdup (src->fingerprint);
}

static void
dispatch_error_private_clear (DispatchErrorPrivate *priv)
{
  g_clear_pointer (&priv->reply, g_free);
  g_clear_pointer (&priv->hint, g_free);
  g_clear_object (&priv->certificate);
  g_clear_pointer (&priv->fingerprint, g_free);
}

G_DEFINE_EXTENDED_ERROR (DispatchError, dispatch_error)

void
dispatch_set_error (GError            **error,
                    DispatchError       code,
                    DispatchSmtpStage   stage,
                    const char         *reply,
                    const char         *hint,
                    const char         *format,
                    ...)
{
  DispatchErrorPrivate *priv;
  GError *new_error;
  va_list args;

  if (error == NULL)
    return;

  va_start (args, format);
  new_error = g_error_new_valist (DISPATCH_ERROR, code, format, args);
  va_end (args);

  priv = dispatch_error_get_private (new_error);
  priv->stage = stage;
  priv->reply = g_strdup (reply);
  priv->hint = g_strdup (hint);

  g_propagate_error (error, new_error);
}

static DispatchErrorPrivate *
get_private (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain != DISPATCH_ERROR)
    return NULL;
  return dispatch_error_get_private (error);
}

DispatchSmtpStage
dispatch_error_get_stage (const GError *error)
{
  DispatchErrorPrivate *priv = get_private (error);
  return priv ? priv->stage : DISPATCH_SMTP_STAGE_NONE;
}

const char *
dispatch_error_get_reply (const GError *error)
{
  DispatchErrorPrivate *priv = get_private (error);
  return priv ? priv->reply : NULL;
}

const char *
dispatch_error_get_hint (const GError *error)
{
  DispatchErrorPrivate *priv = get_private (error);
  return priv ? priv->hint : NULL;
}

void
dispatch_error_set_certificate (GError               *error,
                                GTlsCertificate      *certificate,
                                GTlsCertificateFlags  flags,
                                const char           *sha256_hex)
{
  DispatchErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);

  g_set_object (&priv->certificate, certificate);
  priv->certificate_flags = flags;
  g_free (priv->fingerprint);
  priv->fingerprint = g_strdup (sha256_hex);
}

GTlsCertificate *
dispatch_error_get_certificate (const GError *error)
{
  DispatchErrorPrivate *priv = get_private (error);
  return priv ? priv->certificate : NULL;
}

GTlsCertificateFlags
dispatch_error_get_certificate_flags (const GError *error)
{
  DispatchErrorPrivate *priv = get_private (error);
  return priv ? priv->certificate_flags : 0;
}

const char *
dispatch_error_get_fingerprint (const GError *error)
{
  DispatchErrorPrivate *priv = get_private (error);
  return priv ? priv->fingerprint : NULL;
}

const char *
dispatch_smtp_stage_to_string (DispatchSmtpStage stage)
{
  switch (stage)
    {
    case DISPATCH_SMTP_STAGE_NONE:
      return "";
    case DISPATCH_SMTP_STAGE_CONNECT:
      /* Translators: a stage of sending mail, as in "failed during: connecting" */
      return _("connecting");
    case DISPATCH_SMTP_STAGE_GREETING:
      return _("greeting");
    case DISPATCH_SMTP_STAGE_HELLO:
      return _("introduction (EHLO)");
    case DISPATCH_SMTP_STAGE_TLS:
      return _("encryption (TLS)");
    case DISPATCH_SMTP_STAGE_AUTH:
      return _("authentication");
    case DISPATCH_SMTP_STAGE_SENDER:
      return _("sender");
    case DISPATCH_SMTP_STAGE_RECIPIENT:
      return _("recipients");
    case DISPATCH_SMTP_STAGE_DATA:
      return _("message transfer");
    case DISPATCH_SMTP_STAGE_QUIT:
      return _("closing");
    case DISPATCH_SMTP_STAGE_MESSAGE:
      return _("composing the message");
    default:
      g_return_val_if_reached ("");
    }
}

static gboolean
host_matches (const char *hostname,
              const char *const *suffixes)
{
  g_autofree char *lower = g_ascii_strdown (hostname, -1);

  for (guint i = 0; suffixes[i] != NULL; i++)
    if (g_str_has_suffix (lower, suffixes[i]))
      return TRUE;
  return FALSE;
}

const char *
dispatch_error_auth_hint (const char *hostname)
{
  static const char *const google[] = { "gmail.com", "googlemail.com", "google.com", NULL };
  static const char *const yahoo[] = { "yahoo.com", "yahoo.co.uk", "aol.com", NULL };
  static const char *const apple[] = { "mail.me.com", "icloud.com", NULL };
  static const char *const microsoft[] = { "office365.com", "outlook.com", "hotmail.com", "live.com", NULL };

  if (host_matches (hostname, google))
    return _("Gmail does not accept your normal password here. Turn on 2-Step Verification, "
             "create an app password at https://myaccount.google.com/apppasswords and use it "
             "as the password.");
  if (host_matches (hostname, yahoo))
    return _("Yahoo and AOL need an app password: create one in your account's security "
             "settings and use it as the password.");
  if (host_matches (hostname, apple))
    return _("iCloud needs an app-specific password: create one at https://appleid.apple.com "
             "and use it as the password.");
  if (host_matches (hostname, microsoft))
    return _("Microsoft 365 may have SMTP sign-in (Authenticated SMTP) turned off for your "
             "mailbox; ask your administrator to turn it on, or use an app password.");
  return _("Check the user name and password. Many providers require an app password when "
           "two-step verification is on.");
}

char *
dispatch_error_format (const GError *error)
{
  GString *text;
  const char *reply;
  const char *hint;

  g_return_val_if_fail (error != NULL, NULL);

  text = g_string_new (error->message);
  reply = dispatch_error_get_reply (error);
  hint = dispatch_error_get_hint (error);

  if (reply != NULL && *reply != '\0')
    {
      g_auto(GStrv) lines = g_strsplit (reply, "\n", -1);

      g_string_append_c (text, '\n');
      /* Translators: followed by the server's reply, verbatim, on the next lines */
      g_string_append (text, _("The server replied:"));
      for (guint i = 0; lines[i] != NULL; i++)
        g_string_append_printf (text, "\n  %s", lines[i]);
    }
  if (hint != NULL && *hint != '\0')
    g_string_append_printf (text, "\n%s", hint);

  return g_string_free (text, FALSE);
}
