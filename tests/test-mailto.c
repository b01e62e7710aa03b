/* test-mailto.c — mailto: links (RFC 6068) into the fields of the compose form.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib.h>

#include "dispatch-mailto.h"

static void
test_simple (void)
{
  g_autoptr(DispatchMailto) mailto = dispatch_mailto_parse ("mailto:bob@example.org");

  g_assert_nonnull (mailto);
  g_assert_cmpstr (mailto->to, ==, "bob@example.org");
  g_assert_null (mailto->cc);
  g_assert_null (mailto->subject);
  g_assert_null (mailto->body);
}

static void
test_fields (void)
{
  g_autoptr(DispatchMailto) mailto = NULL;

  mailto = dispatch_mailto_parse ("MAILTO:bob@example.org,ann@example.org"
                                  "?subject=Lab%203%3A%20SMTP+by+hand"
                                  "&body=Hi%20Bob%2C%0D%0A%0D%0Ahere%20it%20is."
                                  "&cc=carol@example.org&BCC=archive@example.org"
                                  "&to=dave@example.org&in-reply-to=%3Cx@y%3E");

  g_assert_nonnull (mailto);
  g_assert_cmpstr (mailto->to, ==, "bob@example.org,ann@example.org, dave@example.org");
  g_assert_cmpstr (mailto->cc, ==, "carol@example.org");
  g_assert_cmpstr (mailto->bcc, ==, "archive@example.org");
  /* '+' stays a plus in mailto: */
  g_assert_cmpstr (mailto->subject, ==, "Lab 3: SMTP+by+hand");
  g_assert_cmpstr (mailto->body, ==, "Hi Bob,\n\nhere it is.");
}

static void
test_only_headers (void)
{
  g_autoptr(DispatchMailto) mailto = dispatch_mailto_parse ("mailto:?to=%22Doe%2C%20Ann%22%20%3Cann@example.org%3E&subject=Hello");

  g_assert_cmpstr (mailto->to, ==, "\"Doe, Ann\" <ann@example.org>");
  g_assert_cmpstr (mailto->subject, ==, "Hello");
}

static void
test_broken (void)
{
  g_autoptr(DispatchMailto) mailto = NULL;

  g_assert_null (dispatch_mailto_parse ("https://example.org"));
  g_assert_null (dispatch_mailto_parse ("bob@example.org"));

  /* A broken escape is kept as typed rather than losing the field. */
  mailto = dispatch_mailto_parse ("mailto:bob@example.org?subject=100%zz&body=%FF%FE");
  g_assert_cmpstr (mailto->subject, ==, "100%zz");
  g_assert_true (g_utf8_validate (mailto->body, -1, NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailto/simple", test_simple);
  g_test_add_func ("/mailto/fields", test_fields);
  g_test_add_func ("/mailto/only-headers", test_only_headers);
  g_test_add_func ("/mailto/broken", test_broken);

  return g_test_run ();
}
