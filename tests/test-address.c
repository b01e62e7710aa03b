/* test-address.c — address lists as the user types them: what passes and why the rest fails.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "dispatch-address.h"

static void
test_valid (void)
{
  static const struct { const char *text; guint n; } cases[] = {
    { "", 0 },
    { "   ", 0 },
    { "bob@example.org", 1 },
    { "Bob <bob@example.org>", 1 },
    { "\"Doe, Ann\" <ann@example.org>, bob@example.org", 2 },
    { "bob@example.org, ", 1 },
    { "ann@localhost", 1 },
    { "user@[127.0.0.1]", 1 },
    { "zoë@exämple.org", 1 },
    { "first.last+tag@sub.example.co.uk", 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *reason = NULL;
      guint n = 99;

      g_assert_true (dispatch_address_list_check (cases[i].text, &n, &reason));
      g_assert_null (reason);
      g_assert_cmpuint (n, ==, cases[i].n);
    }
}

static void
test_invalid (void)
{
  static const struct { const char *text; const char *reason_part; } cases[] = {
    { "bob", "needs an @" },
    { "bob@", "needs a domain" },
    { "@example.org", "no name before" },
    { "bob@example..org", "invalid domain" },
    { "bob@-example.org", "invalid domain" },
    { "bob at example.org", "has a space" },
    { "Bob <bob@example.org", "closing" },
    { "Bob <bob@example.org> x", "after the" },
    { "Bob <>", "no address" },
    { "ok@example.org, carol@", "carol@" },
    { "bob@example.org\r\nBcc: eve@example.org", "line break" },
    { "b<o>b@example.org", "“b<o>b@example.org”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *reason = NULL;

      g_assert_false (dispatch_address_list_check (cases[i].text, NULL, &reason));
      g_assert_nonnull (reason);
      if (strstr (reason, cases[i].reason_part) == NULL)
        g_error ("“%s”: reason “%s” lacks “%s”", cases[i].text, reason, cases[i].reason_part);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/address/valid", test_valid);
  g_test_add_func ("/address/invalid", test_invalid);

  return g_test_run ();
}
