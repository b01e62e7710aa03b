/* dispatch-mailto.c — read a mailto: URI (RFC 6068) into the fields of a message.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-mailto.h"

/* RFC 6068 keeps '+' literal (unlike HTML forms), so only %XX is decoded. A broken escape is
 * kept as typed rather than dropping the whole field. */
static char *
unescape (const char *text,
          gsize       len)
{
  g_autofree char *raw = g_strndup (text, len);
  char *decoded = g_uri_unescape_string (raw, NULL);

  if (decoded == NULL || !g_utf8_validate (decoded, -1, NULL))
    {
      g_free (decoded);
      return g_utf8_make_valid (raw, -1);
    }

  return decoded;
}

static void
append_address (char       **field,
                const char  *addresses)
{
  char *joined;

  if (addresses[0] == '\0')
    return;

  if (*field == NULL || (*field)[0] == '\0')
    joined = g_strdup (addresses);
  else
    joined = g_strconcat (*field, ", ", addresses, NULL);

  g_free (*field);
  *field = joined;
}

DispatchMailto *
dispatch_mailto_parse (const char *uri)
{
  g_autoptr(DispatchMailto) mailto = NULL;
  const char *path;
  const char *query;

  g_return_val_if_fail (uri != NULL, NULL);

  if (g_ascii_strncasecmp (uri, "mailto:", strlen ("mailto:")) != 0)
    return NULL;

  mailto = g_new0 (DispatchMailto, 1);
  path = uri + strlen ("mailto:");
  query = strchr (path, '?');

  {
    g_autofree char *to = unescape (path, query ? (gsize) (query - path) : strlen (path));

    append_address (&mailto->to, g_strstrip (to));
  }

  if (query == NULL)
    return g_steal_pointer (&mailto);

  for (const char *field = query + 1; field != NULL && *field != '\0'; )
    {
      const char *end = strchr (field, '&');
      const char *eq;
      gsize field_len = end ? (gsize) (end - field) : strlen (field);
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      eq = memchr (field, '=', field_len);
      if (eq != NULL)
        {
          name = unescape (field, eq - field);
          value = unescape (eq + 1, field_len - (eq + 1 - field));

          if (g_ascii_strcasecmp (name, "to") == 0)
            append_address (&mailto->to, g_strstrip (value));
          else if (g_ascii_strcasecmp (name, "cc") == 0)
            append_address (&mailto->cc, g_strstrip (value));
          else if (g_ascii_strcasecmp (name, "bcc") == 0)
            append_address (&mailto->bcc, g_strstrip (value));
          else if (g_ascii_strcasecmp (name, "subject") == 0)
            {
              g_free (mailto->subject);
              mailto->subject = g_steal_pointer (&value);
            }
          else if (g_ascii_strcasecmp (name, "body") == 0)
            {
              g_free (mailto->body);
              mailto->body = dispatch_message_normalize_newlines (value);
            }
        }

      field = end ? end + 1 : NULL;
    }

  return g_steal_pointer (&mailto);
}

void
dispatch_mailto_free (DispatchMailto *mailto)
{
  if (mailto == NULL)
    return;

  g_free (mailto->to);
  g_free (mailto->cc);
  g_free (mailto->bcc);
  g_free (mailto->subject);
  g_free (mailto->body);
  g_free (mailto);
}
