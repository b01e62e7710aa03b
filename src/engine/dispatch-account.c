/* dispatch-account.c — where and how to submit, as a value object whose fields are properties.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-account.h"
#include "dispatch-engine-enums.h"
#include "dispatch-error.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-certificate.h"

struct _DispatchAccount
{
  GObject               parent_instance;

  /* Owned; NULL when not set, never "". */
  char                 *host;
  char                 *user;
  char                 *auth_mechanism;
  char                 *ca_file;
  char                 *pinned_sha256;
  char                 *helo_name;

  /* Kept as given even when out of range, so that validate() can name the mistake. */
  guint                 port;
  guint                 timeout;

  DispatchSmtpSecurity  security;
  gboolean              allow_plaintext_auth;
};

G_DEFINE_FINAL_TYPE (DispatchAccount, dispatch_account, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_SECURITY,
  PROP_USER,
  PROP_AUTH_MECHANISM,
  PROP_ALLOW_PLAINTEXT_AUTH,
  PROP_TIMEOUT,
  PROP_CA_FILE,
  PROP_PINNED_SHA256,
  PROP_HELO_NAME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char *
dispatch_smtp_security_to_string (DispatchSmtpSecurity security)
{
  switch (security)
    {
    case DISPATCH_SMTP_SECURITY_STARTTLS:
      return "starttls";
    case DISPATCH_SMTP_SECURITY_TLS:
      return "tls";
    case DISPATCH_SMTP_SECURITY_NONE:
      return "none";
    default:
      g_return_val_if_reached (NULL);
    }
}

gboolean
dispatch_smtp_security_from_string (const char           *string,
                                    DispatchSmtpSecurity *security)
{
  static const DispatchSmtpSecurity all[] = {
    DISPATCH_SMTP_SECURITY_STARTTLS,
    DISPATCH_SMTP_SECURITY_TLS,
    DISPATCH_SMTP_SECURITY_NONE,
  };

  g_return_val_if_fail (string != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      if (g_ascii_strcasecmp (string, dispatch_smtp_security_to_string (all[i])) == 0)
        {
          if (security != NULL)
            *security = all[i];
          return TRUE;
        }
    }

  return FALSE;
}

guint16
dispatch_smtp_security_default_port (DispatchSmtpSecurity security)
{
  switch (security)
    {
    case DISPATCH_SMTP_SECURITY_STARTTLS:
      return 587;  /* submission, RFC 6409 */
    case DISPATCH_SMTP_SECURITY_TLS:
      return 465;  /* submissions, RFC 8314 */
    case DISPATCH_SMTP_SECURITY_NONE:
      return 25;
    default:
      g_return_val_if_reached (0);
    }
}

/* Entries and GSettings keys say "not set" with "", the engine with NULL; storing one form keeps
 * equality, and so notification, exact. Returns whether the field changed. */
static gboolean
replace_string (char       **field,
                const char  *value)
{
  char *copy;

  if (value != NULL && *value == '\0')
    value = NULL;

  if (g_strcmp0 (*field, value) == 0)
    return FALSE;

  copy = g_strdup (value);
  g_free (*field);
  *field = copy;

  return TRUE;
}

static void
dispatch_account_finalize (GObject *object)
{
  DispatchAccount *self = (DispatchAccount *)object;

  g_clear_pointer (&self->host, g_free);
  g_clear_pointer (&self->user, g_free);
  g_clear_pointer (&self->auth_mechanism, g_free);
  g_clear_pointer (&self->ca_file, g_free);
  g_clear_pointer (&self->pinned_sha256, g_free);
  g_clear_pointer (&self->helo_name, g_free);

  G_OBJECT_CLASS (dispatch_account_parent_class)->finalize (object);
}

/* g_settings_bind() silently skips writing a NULL string, so a field the user cleared would keep
 * its old value in GSettings; the properties therefore read "" where the getters return NULL. */
static void
set_string_value (GValue     *value,
                  const char *string)
{
  g_value_set_string (value, string != NULL ? string : "");
}

static void
dispatch_account_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  DispatchAccount *self = DISPATCH_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_HOST:
      set_string_value (value, self->host);
      break;

    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;

    case PROP_SECURITY:
      g_value_set_enum (value, self->security);
      break;

    case PROP_USER:
      set_string_value (value, self->user);
      break;

    case PROP_AUTH_MECHANISM:
      set_string_value (value, self->auth_mechanism);
      break;

    case PROP_ALLOW_PLAINTEXT_AUTH:
      g_value_set_boolean (value, self->allow_plaintext_auth);
      break;

    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;

    case PROP_CA_FILE:
      set_string_value (value, self->ca_file);
      break;

    case PROP_PINNED_SHA256:
      set_string_value (value, self->pinned_sha256);
      break;

    case PROP_HELO_NAME:
      set_string_value (value, self->helo_name);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dispatch_account_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  DispatchAccount *self = DISPATCH_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_HOST:
      dispatch_account_set_host (self, g_value_get_string (value));
      break;

    case PROP_PORT:
      dispatch_account_set_port (self, g_value_get_uint (value));
      break;

    case PROP_SECURITY:
      dispatch_account_set_security (self, g_value_get_enum (value));
      break;

    case PROP_USER:
      dispatch_account_set_user (self, g_value_get_string (value));
      break;

    case PROP_AUTH_MECHANISM:
      dispatch_account_set_auth_mechanism (self, g_value_get_string (value));
      break;

    case PROP_ALLOW_PLAINTEXT_AUTH:
      dispatch_account_set_allow_plaintext_auth (self, g_value_get_boolean (value));
      break;

    case PROP_TIMEOUT:
      dispatch_account_set_timeout (self, g_value_get_uint (value));
      break;

    case PROP_CA_FILE:
      dispatch_account_set_ca_file (self, g_value_get_string (value));
      break;

    case PROP_PINNED_SHA256:
      dispatch_account_set_pinned_sha256 (self, g_value_get_string (value));
      break;

    case PROP_HELO_NAME:
      dispatch_account_set_helo_name (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dispatch_account_class_init (DispatchAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = dispatch_account_finalize;
  object_class->get_property = dispatch_account_get_property;
  object_class->set_property = dispatch_account_set_property;

  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, "", flags);

  /* Port and timeout take any number here: a value typed by a person should become a
   * validate() error naming the field, not a warning from GObject. */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT, 0, flags);

  properties[PROP_SECURITY] =
    g_param_spec_enum ("security", NULL, NULL,
                       DISPATCH_TYPE_SMTP_SECURITY, DISPATCH_SMTP_SECURITY_STARTTLS, flags);

  properties[PROP_USER] =
    g_param_spec_string ("user", NULL, NULL, "", flags);

  properties[PROP_AUTH_MECHANISM] =
    g_param_spec_string ("auth-mechanism", NULL, NULL, "", flags);

  properties[PROP_ALLOW_PLAINTEXT_AUTH] =
    g_param_spec_boolean ("allow-plaintext-auth", NULL, NULL, FALSE, flags);

  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, DISPATCH_ACCOUNT_DEFAULT_TIMEOUT, flags);

  properties[PROP_CA_FILE] =
    g_param_spec_string ("ca-file", NULL, NULL, "", flags);

  properties[PROP_PINNED_SHA256] =
    g_param_spec_string ("pinned-sha256", NULL, NULL, "", flags);

  properties[PROP_HELO_NAME] =
    g_param_spec_string ("helo-name", NULL, NULL, "", flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
dispatch_account_init (DispatchAccount *self)
{
  self->security = DISPATCH_SMTP_SECURITY_STARTTLS;
  self->timeout = DISPATCH_ACCOUNT_DEFAULT_TIMEOUT;
}

DispatchAccount *
dispatch_account_new (void)
{
  return g_object_new (DISPATCH_TYPE_ACCOUNT, NULL);
}

DispatchAccount *
dispatch_account_copy (DispatchAccount *self)
{
  DispatchAccount *copy;

  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  copy = dispatch_account_new ();
  copy->host = g_strdup (self->host);
  copy->port = self->port;
  copy->security = self->security;
  copy->user = g_strdup (self->user);
  copy->auth_mechanism = g_strdup (self->auth_mechanism);
  copy->allow_plaintext_auth = self->allow_plaintext_auth;
  copy->timeout = self->timeout;
  copy->ca_file = g_strdup (self->ca_file);
  copy->pinned_sha256 = g_strdup (self->pinned_sha256);
  copy->helo_name = g_strdup (self->helo_name);

  return copy;
}

const char *
dispatch_account_get_host (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  return self->host;
}

void
dispatch_account_set_host (DispatchAccount *self,
                           const char      *host)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (replace_string (&self->host, host))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOST]);
}

guint
dispatch_account_get_port (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), 0);

  return self->port;
}

void
dispatch_account_set_port (DispatchAccount *self,
                           guint            port)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (self->port == port)
    return;

  self->port = port;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
}

guint16
dispatch_account_get_effective_port (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), 0);

  if (self->port == 0)
    return dispatch_smtp_security_default_port (self->security);

  /* Never wrap a bad number round to some other port; validate() reports it. */
  if (self->port > G_MAXUINT16)
    return 0;

  return (guint16) self->port;
}

DispatchSmtpSecurity
dispatch_account_get_security (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), DISPATCH_SMTP_SECURITY_STARTTLS);

  return self->security;
}

void
dispatch_account_set_security (DispatchAccount      *self,
                               DispatchSmtpSecurity  security)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));
  g_return_if_fail (security == DISPATCH_SMTP_SECURITY_STARTTLS ||
                    security == DISPATCH_SMTP_SECURITY_TLS ||
                    security == DISPATCH_SMTP_SECURITY_NONE);

  if (self->security == security)
    return;

  self->security = security;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SECURITY]);
}

const char *
dispatch_account_get_user (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  return self->user;
}

void
dispatch_account_set_user (DispatchAccount *self,
                           const char      *user)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (replace_string (&self->user, user))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER]);
}

const char *
dispatch_account_get_auth_mechanism (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  return self->auth_mechanism;
}

void
dispatch_account_set_auth_mechanism (DispatchAccount *self,
                                     const char      *mechanism)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (replace_string (&self->auth_mechanism, mechanism))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_MECHANISM]);
}

gboolean
dispatch_account_get_allow_plaintext_auth (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), FALSE);

  return self->allow_plaintext_auth;
}

void
dispatch_account_set_allow_plaintext_auth (DispatchAccount *self,
                                           gboolean         allow)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  allow = !!allow;
  if (self->allow_plaintext_auth == allow)
    return;

  self->allow_plaintext_auth = allow;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOW_PLAINTEXT_AUTH]);
}

guint
dispatch_account_get_timeout (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), DISPATCH_ACCOUNT_DEFAULT_TIMEOUT);

  return self->timeout;
}

void
dispatch_account_set_timeout (DispatchAccount *self,
                              guint            seconds)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (self->timeout == seconds)
    return;

  self->timeout = seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

const char *
dispatch_account_get_ca_file (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  return self->ca_file;
}

void
dispatch_account_set_ca_file (DispatchAccount *self,
                              const char      *path)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (replace_string (&self->ca_file, path))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CA_FILE]);
}

const char *
dispatch_account_get_pinned_sha256 (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  return self->pinned_sha256;
}

void
dispatch_account_set_pinned_sha256 (DispatchAccount *self,
                                    const char      *hex)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (replace_string (&self->pinned_sha256, hex))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PINNED_SHA256]);
}

const char *
dispatch_account_get_helo_name (DispatchAccount *self)
{
  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), NULL);

  return self->helo_name;
}

void
dispatch_account_set_helo_name (DispatchAccount *self,
                                const char      *name)
{
  g_return_if_fail (DISPATCH_IS_ACCOUNT (self));

  if (replace_string (&self->helo_name, name))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELO_NAME]);
}

/* A host or EHLO name with a space or a control character can only be a typing or pasting
 * mistake, and in EHLO it would break the command line. */
static gboolean
is_clean_name (const char *name)
{
  if (!g_utf8_validate (name, -1, NULL))
    return FALSE;

  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || g_unichar_iscntrl (c))
        return FALSE;
    }

  return TRUE;
}

gboolean
dispatch_account_validate (DispatchAccount  *self,
                           GError          **error)
{
  g_autofree char *pin = NULL;

  g_return_val_if_fail (DISPATCH_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->host == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, _("Enter the name of your provider’s outgoing (SMTP) server, for example smtp.example.com."),
                          _("The server name is missing."));
      return FALSE;
    }

  if (!is_clean_name (self->host))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, _("Check the server name for stray spaces, for example at its end."),
                          _("The server name contains a space or a control character."));
      return FALSE;
    }

  if (self->port > G_MAXUINT16)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, _("Use a number from 1 to 65535, or 0 for the usual port of the security setting."),
                          _("The port %u is not a valid port number."),
                          self->port);
      return FALSE;
    }

  if (self->timeout < 1)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, NULL,
                          _("The timeout must be at least one second."));
      return FALSE;
    }

  /* Fingerprints are copied from browsers and openssl in several spellings ("AB:CD:…",
   * "ab cd …", "abcd…"): the parser the connection pins them with is the one judge. */
  if (self->pinned_sha256 != NULL && (pin = dispatch_smtp_normalize_sha256 (self->pinned_sha256)) == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, _("A SHA-256 fingerprint has 64 hexadecimal digits; colons and spaces between them are allowed."),
                          _("The pinned certificate fingerprint is not a SHA-256 fingerprint."));
      return FALSE;
    }

  if (self->helo_name != NULL && !is_clean_name (self->helo_name))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, _("Leave the EHLO name empty to use this computer’s name."),
                          _("The EHLO name contains a space or a control character."));
      return FALSE;
    }

  if (self->auth_mechanism != NULL && !dispatch_smtp_auth_is_supported (self->auth_mechanism))
    {
      g_autofree char *ours = g_strjoinv (", ", (char **) dispatch_smtp_auth_get_supported ());
      g_autofree char *hint = g_strdup_printf (_("Choose one of %s in the account settings, or let Dispatch choose."), ours);

      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE,
                          NULL, hint,
                          _("Dispatch does not support the authentication mechanism “%s”."),
                          self->auth_mechanism);
      return FALSE;
    }

  return TRUE;
}
