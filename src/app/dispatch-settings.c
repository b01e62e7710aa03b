/* dispatch-settings.c — the account as GSettings keeps it, turned into engine objects.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <gmime/gmime.h>

#include "dispatch-settings.h"

GSettings *
dispatch_settings_new (void)
{
  return g_settings_new (DISPATCH_SCHEMA_ID);
}

static char *
pin_key (const char *host,
         guint       port)
{
  return g_strdup_printf ("%s:%u", host, port);
}

DispatchAccount *
dispatch_settings_create_account (GSettings *settings)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autofree char *host = g_settings_get_string (settings, "host");
  g_autofree char *user = g_settings_get_string (settings, "user");
  g_autofree char *ca_file = g_settings_get_string (settings, "ca-file");
  g_autofree char *pin = NULL;

  g_strstrip (host);
  g_strstrip (user);

  dispatch_account_set_host (account, host);
  dispatch_account_set_security (account, g_settings_get_enum (settings, "security"));
  dispatch_account_set_port (account, g_settings_get_uint (settings, "port"));
  dispatch_account_set_user (account, user[0] != '\0' ? user : NULL);
  dispatch_account_set_allow_plaintext_auth (account, g_settings_get_boolean (settings, "allow-plaintext-auth"));
  dispatch_account_set_timeout (account, g_settings_get_uint (settings, "timeout"));
  dispatch_account_set_ca_file (account, ca_file[0] != '\0' ? ca_file : NULL);

  pin = dispatch_settings_dup_pin (settings, host, dispatch_account_get_effective_port (account));
  dispatch_account_set_pinned_sha256 (account, pin);

  return g_steal_pointer (&account);
}

char *
dispatch_settings_dup_sender_address (GSettings *settings)
{
  g_autofree char *address = g_settings_get_string (settings, "sender-address");
  g_autofree char *user = NULL;

  g_strstrip (address);
  if (address[0] != '\0')
    return g_steal_pointer (&address);

  user = g_settings_get_string (settings, "user");
  g_strstrip (user);
  if (strchr (user, '@') != NULL)
    return g_steal_pointer (&user);

  return g_strdup_printf ("%s@localhost", g_get_user_name ());
}

char *
dispatch_settings_dup_sender (GSettings *settings)
{
  g_autofree char *name = g_settings_get_string (settings, "sender-name");
  g_autofree char *address = dispatch_settings_dup_sender_address (settings);
  InternetAddress *mailbox;
  char *sender;

  g_strstrip (name);
  if (name[0] == '\0')
    return g_steal_pointer (&address);

  /* GMime quotes the name when it needs it ("Doe, Ann" <ann@example.org>). */
  mailbox = internet_address_mailbox_new (name, address);
  sender = internet_address_to_string (mailbox, NULL, FALSE);
  g_object_unref (mailbox);

  return sender;
}

char *
dispatch_settings_dup_server_label (GSettings *settings)
{
  g_autoptr(DispatchAccount) account = dispatch_settings_create_account (settings);
  const char *security;

  switch (dispatch_account_get_security (account))
    {
    case DISPATCH_SMTP_SECURITY_STARTTLS:
      security = _("STARTTLS");
      break;

    case DISPATCH_SMTP_SECURITY_TLS:
      security = _("TLS");
      break;

    case DISPATCH_SMTP_SECURITY_NONE:
    default:
      security = _("not encrypted");
      break;
    }

  /* Translators: server, port and how the connection is secured: "smtp.example.org:587 · STARTTLS" */
  return g_strdup_printf (_("%s:%u · %s"),
                          dispatch_account_get_host (account),
                          (guint) dispatch_account_get_effective_port (account),
                          security);
}

gboolean
dispatch_settings_is_account_set_up (GSettings *settings)
{
  /* Accounts made before the flag existed count by what was changed in them. */
  static const char *account_keys[] = { "provider", "host", "port", "security", "user" };

  if (g_settings_get_boolean (settings, "account-set-up"))
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (account_keys); i++)
    {
      g_autoptr(GVariant) value = g_settings_get_user_value (settings, account_keys[i]);

      if (value != NULL)
        return TRUE;
    }

  return FALSE;
}

char *
dispatch_settings_dup_pin (GSettings  *settings,
                           const char *host,
                           guint       port)
{
  g_autoptr(GVariant) pins = g_settings_get_value (settings, "pinned-certificates");
  g_autofree char *key = pin_key (host, port);
  char *pin = NULL;

  if (!g_variant_lookup (pins, key, "s", &pin))
    return NULL;

  return pin;
}

void
dispatch_settings_set_pin (GSettings  *settings,
                           const char *host,
                           guint       port,
                           const char *sha256_hex)
{
  g_autoptr(GVariant) pins = g_settings_get_value (settings, "pinned-certificates");
  g_autofree char *key = pin_key (host, port);
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a{ss}"));
  GVariantIter iter;
  const char *k;
  const char *v;

  g_variant_iter_init (&iter, pins);
  while (g_variant_iter_next (&iter, "{&s&s}", &k, &v))
    {
      if (g_strcmp0 (k, key) != 0)
        g_variant_builder_add (&builder, "{ss}", k, v);
    }

  if (sha256_hex != NULL && sha256_hex[0] != '\0')
    g_variant_builder_add (&builder, "{ss}", key, sha256_hex);

  g_settings_set_value (settings, "pinned-certificates", g_variant_builder_end (&builder));
}
