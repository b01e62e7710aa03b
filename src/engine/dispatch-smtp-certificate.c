/* dispatch-smtp-certificate.c — pure helpers about TLS: fingerprints, reasons, version names.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-smtp-certificate.h"

char *
dispatch_smtp_certificate_sha256 (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

char *
dispatch_smtp_normalize_sha256 (const char *text)
{
  GString *hex;

  g_return_val_if_fail (text != NULL, NULL);

  hex = g_string_new (NULL);
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == ':' || g_ascii_isspace (*p))
        continue;
      if (!g_ascii_isxdigit (*p))
        {
          g_string_free (hex, TRUE);
          return NULL;
        }
      g_string_append_c (hex, g_ascii_tolower (*p));
    }
  if (hex->len != 64)
    {
      g_string_free (hex, TRUE);
      return NULL;
    }
  return g_string_free (hex, FALSE);
}

char *
dispatch_smtp_certificate_describe_flags (GTlsCertificateFlags  flags,
                                          const char           *host)
{
  GString *text = g_string_new (NULL);

  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_string_append_printf (text, "%s ", _("It is not signed by a known certificate authority (unknown issuer)."));
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_string_append_printf (text, _("It was not issued for %s (wrong host name)."), host), g_string_append_c (text, ' ');
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    g_string_append_printf (text, "%s ", _("It has expired."));
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    g_string_append_printf (text, "%s ", _("It is not valid yet."));
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    g_string_append_printf (text, "%s ", _("It has been revoked."));
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    g_string_append_printf (text, "%s ", _("It uses insecure cryptography."));
  if (text->len == 0)
    g_string_append_printf (text, "%s ", _("It could not be validated."));

  g_string_truncate (text, text->len - 1);
  return g_string_free (text, FALSE);
}

const char *
dispatch_smtp_tls_version_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default: return NULL;
    }
}
