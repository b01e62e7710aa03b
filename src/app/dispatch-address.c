/* dispatch-address.c — check address lists as they are typed, to explain what is wrong at once.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "dispatch-address.h"

/* Splits at commas that are outside quoted strings, comments and angle brackets, so that
 * "\"Doe, Ann\" <ann@example.org>" stays one item. */
static GPtrArray *
split_items (const char *text)
{
  GPtrArray *items = g_ptr_array_new_with_free_func (g_free);
  const char *start = text;
  gboolean quoted = FALSE;
  int angle = 0;
  int comment = 0;

  for (const char *p = text; ; p++)
    {
      if (*p == '\0' || (*p == ',' && !quoted && angle == 0 && comment == 0))
        {
          g_autofree char *item = g_strndup (start, p - start);

          g_strstrip (item);
          if (item[0] != '\0')
            g_ptr_array_add (items, g_steal_pointer (&item));

          if (*p == '\0')
            break;

          start = p + 1;
          continue;
        }

      if (*p == '\\' && quoted && p[1] != '\0')
        p++;
      else if (*p == '"')
        quoted = !quoted;
      else if (!quoted && *p == '<')
        angle++;
      else if (!quoted && *p == '>' && angle > 0)
        angle--;
      else if (!quoted && *p == '(')
        comment++;
      else if (!quoted && *p == ')' && comment > 0)
        comment--;
    }

  return items;
}

static gboolean
domain_is_valid (const char *domain)
{
  gsize len = strlen (domain);

  if (domain[0] == '[')
    return len > 2 && domain[len - 1] == ']';

  if (domain[0] == '.' || domain[0] == '-' || domain[len - 1] == '.' || domain[len - 1] == '-')
    return FALSE;

  if (strstr (domain, "..") != NULL)
    return FALSE;

  for (const char *p = domain; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c != '.' && c != '-' && !g_unichar_isalnum (c))
        return FALSE;
    }

  return TRUE;
}

static gboolean
local_part_is_valid (const char *local)
{
  for (const char *p = local; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || g_unichar_isspace (c) ||
          (c < 0x80 && strchr ("<>()[],;:\\", (int) c) != NULL))
        {
          /* A quoted local part may hold nearly anything; leave it to the engine. */
          if (local[0] != '"')
            return FALSE;
        }
    }

  return TRUE;
}

static gboolean
check_item (const char  *item,
            char       **reason)
{
  g_autofree char *addr = NULL;
  const char *open;
  const char *at;

  if (!g_utf8_validate (item, -1, NULL))
    {
      *reason = g_strdup (_("The address is not valid text"));
      return FALSE;
    }

  for (const char *p = item; *p != '\0'; p++)
    {
      if (*p == '\r' || *p == '\n' || *p == '\t')
        {
          *reason = g_strdup (_("An address cannot contain a line break or a tab"));
          return FALSE;
        }
    }

  if ((open = strrchr (item, '<')) != NULL)
    {
      const char *close = strchr (open, '>');

      if (close == NULL)
        {
          /* Translators: %s is what the user typed */
          *reason = g_strdup_printf (_("“%s” is missing a closing “>”"), item);
          return FALSE;
        }

      if (close[1] != '\0')
        {
          *reason = g_strdup_printf (_("“%s” has text after the “>”"), item);
          return FALSE;
        }

      addr = g_strndup (open + 1, close - open - 1);
      g_strstrip (addr);
    }
  else
    {
      addr = g_strdup (item);

      if (strpbrk (addr, " ") != NULL)
        {
          *reason = g_strdup_printf (_("“%s” has a space; put commas between addresses"), item);
          return FALSE;
        }
    }

  if (addr[0] == '\0')
    {
      *reason = g_strdup_printf (_("“%s” has no address between “<” and “>”"), item);
      return FALSE;
    }

  at = strrchr (addr, '@');

  if (at == NULL)
    {
      *reason = g_strdup_printf (_("“%s” needs an @ and a domain, like name@example.org"), addr);
      return FALSE;
    }

  if (at == addr)
    {
      *reason = g_strdup_printf (_("“%s” has no name before the @"), addr);
      return FALSE;
    }

  if (at[1] == '\0')
    {
      *reason = g_strdup_printf (_("“%s” needs a domain after the @"), addr);
      return FALSE;
    }

  {
    g_autofree char *local = g_strndup (addr, at - addr);

    if (!local_part_is_valid (local))
      {
        *reason = g_strdup_printf (_("“%s” has a character that is not allowed before the @"), addr);
        return FALSE;
      }
  }

  if (!domain_is_valid (at + 1))
    {
      *reason = g_strdup_printf (_("“%s” has an invalid domain"), addr);
      return FALSE;
    }

  return TRUE;
}

gboolean
dispatch_address_list_check (const char  *text,
                             guint       *n_addresses,
                             char       **reason)
{
  g_autoptr(GPtrArray) items = NULL;
  g_autofree char *why = NULL;

  if (n_addresses != NULL)
    *n_addresses = 0;

  if (text == NULL)
    return TRUE;

  items = split_items (text);

  for (guint i = 0; i < items->len; i++)
    {
      if (!check_item (g_ptr_array_index (items, i), &why))
        {
          if (reason != NULL)
            *reason = g_steal_pointer (&why);
          return FALSE;
        }
    }

  if (n_addresses != NULL)
    *n_addresses = items->len;

  return TRUE;
}
