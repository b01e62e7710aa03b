/* dispatch-smtp-capabilities.c — what a server offers, read from its EHLO reply; pure.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-capabilities.h"

struct _DispatchSmtpCapabilities
{
  DispatchSmtpCapabilityFlags   flags;
  guint64                       max_size;
  char                        **auth_mechanisms;   /* upper-case, server order, never NULL */
  char                         *domain;            /* valid UTF-8, or NULL */
};

G_DEFINE_BOXED_TYPE (DispatchSmtpCapabilities, dispatch_smtp_capabilities,
                     dispatch_smtp_capabilities_copy, dispatch_smtp_capabilities_free)

static const struct
{
  const char                  *keyword;
  DispatchSmtpCapabilityFlags  flag;
} simple_keywords[] = {
  { "STARTTLS",            DISPATCH_SMTP_CAPABILITY_STARTTLS },
  { "PIPELINING",          DISPATCH_SMTP_CAPABILITY_PIPELINING },
  { "CHUNKING",            DISPATCH_SMTP_CAPABILITY_CHUNKING },
  { "8BITMIME",            DISPATCH_SMTP_CAPABILITY_8BITMIME },
  { "SMTPUTF8",            DISPATCH_SMTP_CAPABILITY_SMTPUTF8 },
  { "ENHANCEDSTATUSCODES", DISPATCH_SMTP_CAPABILITY_ENHANCEDSTATUSCODES },
  { "DSN",                 DISPATCH_SMTP_CAPABILITY_DSN },
  { "BINARYMIME",          DISPATCH_SMTP_CAPABILITY_BINARYMIME },
};

/* SASL names (RFC 4422 §3.1): what the AUTH command builder accepts, so a mechanism taken from
 * the server can always be sent back. */
static gboolean
is_sasl_mechanism_name (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > 20)
    return FALSE;

  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isupper (name[i]) && !g_ascii_isdigit (name[i]) && name[i] != '-' && name[i] != '_')
        return FALSE;
    }

  return TRUE;
}

/* RFC 1870 allows "SIZE" alone; a number we cannot read is treated the same way rather than
 * guessed at, so a strange server costs us the early size check, never the send. */
static guint64
parse_size (const char *param)
{
  guint64 value = 0;

  if (param == NULL || *param == '\0')
    return 0;
  for (const char *p = param; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return 0;
    }
  if (!g_ascii_string_to_unsigned (param, 10, 0, G_MAXUINT64, &value, NULL))
    return 0;

  return value;
}

/* The parameters of one EHLO line, without the empty strings that runs of spaces would leave. */
static char **
split_params (const char *text)
{
  g_auto(GStrv) parts = g_strsplit_set (text, " \t", -1);
  g_autoptr(GStrvBuilder) params = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] != '\0')
        g_strv_builder_add (params, parts[i]);
    }

  return g_strv_builder_end (params);
}

/* The greeting line's domain; it ends up in the UI, so it is made valid UTF-8 here. */
static char *
first_word (const char *line)
{
  const char *start = line + strspn (line, " \t");
  gsize len = strcspn (start, " \t");

  if (len == 0)
    return NULL;

  return g_utf8_make_valid (start, len);
}

/* The list is bounded: checking each new name against a list that grew with the reply made
 * one EHLO cost seconds of CPU. Past the bound only the mechanisms we can use still count, so
 * a server that lists junk first still gets its PLAIN. */
static void
add_auth_mechanisms (GPtrArray          *mechanisms,
                     const char * const *params)
{
  for (guint i = 0; params[i] != NULL; i++)
    {
      g_autofree char *name = g_ascii_strup (params[i], -1);

      if (!is_sasl_mechanism_name (name))
        continue;
      if (mechanisms->len >= DISPATCH_SMTP_CAPABILITIES_MAX_AUTH_MECHANISMS &&
          !dispatch_smtp_auth_is_supported (name))
        continue;
      if (g_ptr_array_find_with_equal_func (mechanisms, name, g_str_equal, NULL))
        continue;
      g_ptr_array_add (mechanisms, g_steal_pointer (&name));
    }
}

DispatchSmtpCapabilities *
dispatch_smtp_capabilities_new_empty (void)
{
  DispatchSmtpCapabilities *caps = g_new0 (DispatchSmtpCapabilities, 1);

  caps->auth_mechanisms = g_new0 (char *, 1);

  return caps;
}

/*
 * 250-mail.example.org Hello client.example.net   first line: the server's domain, a greeting
 * 250-SIZE 35882577                               then one keyword per line, with parameters
 * 250-AUTH PLAIN LOGIN                            separated by spaces
 * 250-AUTH=PLAIN LOGIN                            pre-RFC 4954 form, for old clients
 * 250 PIPELINING
 */
DispatchSmtpCapabilities *
dispatch_smtp_capabilities_new_from_ehlo (const DispatchSmtpReply *reply)
{
  g_autoptr(DispatchSmtpCapabilities) caps = NULL;
  g_autoptr(GPtrArray) mechanisms = NULL;
  const char * const *lines;
  guint n_lines;

  g_return_val_if_fail (reply != NULL, NULL);
  g_return_val_if_fail (dispatch_smtp_reply_get_class (reply) == 2, NULL);

  caps = dispatch_smtp_capabilities_new_empty ();
  mechanisms = g_ptr_array_new_with_free_func (g_free);
  lines = dispatch_smtp_reply_get_lines (reply);
  n_lines = dispatch_smtp_reply_get_n_lines (reply);

  caps->domain = first_word (lines[0]);

  for (guint i = 1; i < n_lines; i++)
    {
      const char *line = lines[i] + strspn (lines[i], " \t");
      gsize keyword_len = strcspn (line, " \t=");
      g_autofree char *keyword = g_strndup (line, keyword_len);
      g_auto(GStrv) params = NULL;
      gboolean known = FALSE;

      if (keyword_len == 0)
        continue;

      params = split_params (line[keyword_len] != '\0' ? line + keyword_len + 1 : "");

      for (guint k = 0; k < G_N_ELEMENTS (simple_keywords); k++)
        {
          if (g_ascii_strcasecmp (keyword, simple_keywords[k].keyword) == 0)
            {
              caps->flags |= simple_keywords[k].flag;
              known = TRUE;
              break;
            }
        }
      if (known)
        continue;

      if (g_ascii_strcasecmp (keyword, "AUTH") == 0)
        {
          caps->flags |= DISPATCH_SMTP_CAPABILITY_AUTH;
          add_auth_mechanisms (mechanisms, (const char * const *) params);
        }
      else if (g_ascii_strcasecmp (keyword, "SIZE") == 0)
        {
          caps->flags |= DISPATCH_SMTP_CAPABILITY_SIZE;
          caps->max_size = parse_size (params[0]);
        }
    }

  g_ptr_array_add (mechanisms, NULL);
  g_strfreev (caps->auth_mechanisms);
  caps->auth_mechanisms = (char **) g_ptr_array_free (g_steal_pointer (&mechanisms), FALSE);

  return g_steal_pointer (&caps);
}

DispatchSmtpCapabilities *
dispatch_smtp_capabilities_copy (const DispatchSmtpCapabilities *caps)
{
  DispatchSmtpCapabilities *copy;

  g_return_val_if_fail (caps != NULL, NULL);

  copy = g_new0 (DispatchSmtpCapabilities, 1);
  copy->flags = caps->flags;
  copy->max_size = caps->max_size;
  copy->auth_mechanisms = g_strdupv (caps->auth_mechanisms);
  copy->domain = g_strdup (caps->domain);

  return copy;
}

void
dispatch_smtp_capabilities_free (DispatchSmtpCapabilities *caps)
{
  if (caps == NULL)
    return;

  g_strfreev (caps->auth_mechanisms);
  g_free (caps->domain);
  g_free (caps);
}

DispatchSmtpCapabilityFlags
dispatch_smtp_capabilities_get_flags (const DispatchSmtpCapabilities *caps)
{
  g_return_val_if_fail (caps != NULL, DISPATCH_SMTP_CAPABILITY_NONE);

  return caps->flags;
}

gboolean
dispatch_smtp_capabilities_has (const DispatchSmtpCapabilities *caps,
                                DispatchSmtpCapabilityFlags     flag)
{
  g_return_val_if_fail (caps != NULL, FALSE);

  return (caps->flags & flag) == flag;
}

guint64
dispatch_smtp_capabilities_get_max_size (const DispatchSmtpCapabilities *caps)
{
  g_return_val_if_fail (caps != NULL, 0);

  return caps->max_size;
}

const char * const *
dispatch_smtp_capabilities_get_auth_mechanisms (const DispatchSmtpCapabilities *caps)
{
  g_return_val_if_fail (caps != NULL, NULL);

  return (const char * const *) caps->auth_mechanisms;
}

gboolean
dispatch_smtp_capabilities_has_auth_mechanism (const DispatchSmtpCapabilities *caps,
                                               const char                     *mechanism)
{
  g_return_val_if_fail (caps != NULL, FALSE);
  g_return_val_if_fail (mechanism != NULL, FALSE);

  for (guint i = 0; caps->auth_mechanisms[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (caps->auth_mechanisms[i], mechanism) == 0)
        return TRUE;
    }

  return FALSE;
}

const char *
dispatch_smtp_capabilities_get_domain (const DispatchSmtpCapabilities *caps)
{
  g_return_val_if_fail (caps != NULL, NULL);

  return caps->domain;
}
