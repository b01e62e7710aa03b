/* test-smtp-command.c — command builders: exact lines out, injection and bad grammar refused.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-command.h"

/* Test arguments hold control bytes and invalid UTF-8; TAP output must not. */
static void
note (const char *label,
      const char *value)
{
  g_autofree char *escaped = value != NULL ? g_strescape (value, NULL) : g_strdup ("(null)");

  g_test_message ("%s \"%s\"", label, escaped);
}

/* Takes @result and @error; asserts the builder refused with an error mentioning @fragment. */
static void
assert_refused (char       *result,
                GError     *error,
                const char *fragment)
{
  g_autofree char *line = result;
  g_autoptr(GError) owned = error;

  g_assert_null (line);
  g_assert_error (owned, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  if (strstr (owned->message, fragment) == NULL)
    g_error ("error \"%s\" does not mention \"%s\"", owned->message, fragment);
  /* The message names the problem; it never carries the raw control byte itself. */
  g_assert_null (strpbrk (owned->message, "\r\n"));
}

static void
assert_built (char       *result,
              GError     *error,
              const char *expected)
{
  g_autofree char *line = result;
  g_autoptr(GError) owned = error;

  g_assert_no_error (owned);
  g_assert_cmpstr (line, ==, expected);
}

typedef char *(*HelloBuilder) (const char *domain, GError **error);

static const struct { const char *verb; HelloBuilder build; } hello_builders[] = {
  { "EHLO", dispatch_smtp_command_ehlo },
  { "HELO", dispatch_smtp_command_helo },
};

static void
test_hello (void)
{
  g_autofree char *label63 = g_strnfill (63, 'a');
  /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253, the longest name DNS allows */
  g_autofree char *name253 = g_strdup_printf ("%s.%s.%s.%.61s", label63, label63, label63, label63);
  const char *good[] = {
    "mail.example.org",
    "localhost",                      /* the grammar allows one label; FQDN-ness is the caller's */
    "client-1.example.org",
    "xn--bcher-kva.example",
    "1st.example.org",
    "a.b",
    "MAIL.Example.ORG",
    "[127.0.0.1]",
    "[192.0.2.255]",
    "[IPv6:::1]",
    "[IPv6:2001:db8::1]",
    "[IPv6:2001:db8:0:0:0:0:0:1]",
    "[IPv6:::ffff:192.0.2.1]",
    "[ipv6:fe80::1]",
    label63,
    name253,
  };

  g_assert_cmpuint (strlen (name253), ==, 253);

  for (guint b = 0; b < G_N_ELEMENTS (hello_builders); b++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (good); i++)
        {
          GError *error = NULL;
          char *line = hello_builders[b].build (good[i], &error);
          g_autofree char *expected = g_strdup_printf ("%s %s\r\n", hello_builders[b].verb, good[i]);

          assert_built (line, error, expected);
        }
    }
}

static void
test_hello_refused (void)
{
  g_autofree char *label64 = g_strnfill (64, 'a');
  g_autofree char *label63 = g_strnfill (63, 'a');
  g_autofree char *name254 = g_strdup_printf ("%s.%s.%s.%.62s", label63, label63, label63, label63);
  const struct { const char *domain; const char *fragment; } cases[] = {
    { "", "is empty" },
    { "mail.example.org\r\nMAIL FROM:<a@b.c>", "carriage return (CR) at offset 16" },
    { "mail.example.org\n", "line feed (LF)" },
    { "mail.example.org\r", "carriage return (CR)" },
    { "mail\texample.org", "a tab" },
    { "mail\x01.example.org", "byte 0x01" },
    { "mail\x1b.example.org", "byte 0x1B" },
    { "mail.example.org\x7f", "DEL" },
    { "mail example.org", "contains a space" },
    { "mail_host.example.org", "contains '_'" },
    { "mail.example.org:25", "contains ':'" },
    { "mail.<example>.org", "contains '<'" },
    { "-mail.example.org", "starts or ends with a hyphen" },
    { "mail-.example.org", "starts or ends with a hyphen" },
    { "mail.example.org-", "starts or ends with a hyphen" },
    { ".example.org", "empty label" },
    { "example.org.", "empty label" },
    { "mail..example.org", "empty label" },
    { ".", "empty label" },
    { label64, "label longer than 63" },
    { name254, "longer than 253" },
    { "b\xc3\xbc" "cher.example", "non-ASCII" },
    { "\xff.example", "non-ASCII" },
    { "192.0.2.1", "looks like an IP address" },
    { "host.123", "looks like an IP address" },
    { "42", "looks like an IP address" },
    { "[192.0.2.1", "enclosed in '[' and ']'" },
    { "[", "enclosed in '[' and ']'" },
    { "[]", "valid IPv4 address" },
    { "[1.2.3]", "valid IPv4 address" },
    { "[256.1.1.1]", "valid IPv4 address" },
    { "[1.2.3.4.5]", "valid IPv4 address" },
    { "[ 127.0.0.1]", "valid IPv4 address" },
    { "[localhost]", "valid IPv4 address" },
    { "[::1]", "IPv6 needs the \"IPv6:\" prefix" },
    { "[IPv6:]", "valid IPv6 address" },
    { "[IPv6:1.2.3.4]", "valid IPv6 address" },
    { "[IPv6:::1%eth0]", "valid IPv6 address" },
    { "[IPv6:gggg::1]", "valid IPv6 address" },
    { "[IPv6:1:2:3:4:5:6:7:8:9]", "valid IPv6 address" },
    { "[IPv6 ::1]", "valid IPv4 address" },
    { "[127.0.0.1]\r\n", "carriage return (CR)" },
    { "[127.0.0.1]x", "enclosed in '[' and ']'" },
  };

  for (guint b = 0; b < G_N_ELEMENTS (hello_builders); b++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          GError *error = NULL;
          char *line = hello_builders[b].build (cases[i].domain, &error);
          g_autofree char *fragment = g_strdup_printf ("%s domain", hello_builders[b].verb);

          note (hello_builders[b].verb, cases[i].domain);
          g_assert_nonnull (error);
          g_assert_nonnull (strstr (error->message, fragment));
          assert_refused (line, error, cases[i].fragment);
        }
    }
}

static void
test_mail_from (void)
{
  static const struct {
    const char *path; guint64 size; DispatchSmtpBody body; gboolean smtputf8; const char *expected;
  } cases[] = {
    { "alice@example.org", 0, DISPATCH_SMTP_BODY_NONE, FALSE, "MAIL FROM:<alice@example.org>\r\n" },
    { "", 0, DISPATCH_SMTP_BODY_NONE, FALSE, "MAIL FROM:<>\r\n" },
    { "", 1234, DISPATCH_SMTP_BODY_NONE, FALSE, "MAIL FROM:<> SIZE=1234\r\n" },
    { "a@example.org", 1000, DISPATCH_SMTP_BODY_NONE, FALSE, "MAIL FROM:<a@example.org> SIZE=1000\r\n" },
    { "a@example.org", 0, DISPATCH_SMTP_BODY_7BIT, FALSE, "MAIL FROM:<a@example.org> BODY=7BIT\r\n" },
    { "a@example.org", 0, DISPATCH_SMTP_BODY_8BITMIME, FALSE, "MAIL FROM:<a@example.org> BODY=8BITMIME\r\n" },
    { "a@example.org", 0, DISPATCH_SMTP_BODY_BINARYMIME, FALSE, "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n" },
    { "a@example.org", 0, DISPATCH_SMTP_BODY_NONE, TRUE, "MAIL FROM:<a@example.org> SMTPUTF8\r\n" },
    { "a@example.org", 1000, DISPATCH_SMTP_BODY_8BITMIME, TRUE,
      "MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n" },
    { "a@example.org", G_MAXUINT64, DISPATCH_SMTP_BODY_BINARYMIME, FALSE,
      "MAIL FROM:<a@example.org> SIZE=18446744073709551615 BODY=BINARYMIME\r\n" },
    { "a@example.org", G_GUINT64_CONSTANT (5000000000), DISPATCH_SMTP_BODY_7BIT, FALSE,
      "MAIL FROM:<a@example.org> SIZE=5000000000 BODY=7BIT\r\n" },
    { "first.last+tag@sub.example.org", 0, DISPATCH_SMTP_BODY_NONE, FALSE,
      "MAIL FROM:<first.last+tag@sub.example.org>\r\n" },
    { "\"odd@local\"@example.org", 0, DISPATCH_SMTP_BODY_NONE, FALSE,
      "MAIL FROM:<\"odd@local\"@example.org>\r\n" },
    { "user@[192.0.2.1]", 0, DISPATCH_SMTP_BODY_NONE, FALSE, "MAIL FROM:<user@[192.0.2.1]>\r\n" },
    { "δοκιμή@παράδειγμα.δοκιμή", 0, DISPATCH_SMTP_BODY_8BITMIME, TRUE,
      "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> BODY=8BITMIME SMTPUTF8\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      char *line = dispatch_smtp_command_mail_from (cases[i].path, cases[i].size, cases[i].body,
                                                    cases[i].smtputf8, &error);

      assert_built (line, error, cases[i].expected);
    }
}

static const struct { const char *path; const char *fragment; } bad_paths[] = {
  { "a@example.org>\r\nRCPT TO:<evil@example.net", "carriage return (CR) at offset 14" },
  { "a@example.org> SIZE=1", "'>' at offset 13" },
  { "a@example.org\r\nRSET", "carriage return (CR) at offset 13" },
  { "a@example.org\nRSET", "line feed (LF)" },
  { "a@example.org\r", "carriage return (CR)" },
  { "\r\n", "carriage return (CR) at offset 0" },
  { "a@example.org\t", "a tab" },
  { "a\x01@example.org", "byte 0x01" },
  { "a\x1f@example.org", "byte 0x1F" },
  { "a@example.org\x7f", "DEL" },
  { "a b@example.org", "a space at offset 1" },
  { "a@example.org SIZE=1", "a space" },
  { "<a@example.org>", "'<' at offset 0" },
  { "a@example.org>", "'>'" },
  { "\"john doe\"@example.org", "a space" },
  { "alice", "local-part@domain" },
  { "@example.org", "local-part@domain" },
  { "alice@", "local-part@domain" },
  { "@", "local-part@domain" },
  { "b\xc3\xb6rje@example.org", "non-ASCII characters, which need SMTPUTF8" },
  { "a@b\xc3\xbc" "cher.example", "SMTPUTF8" },
  { "\xff@example.org", "SMTPUTF8" },
};

static void
test_mail_from_refused (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_paths); i++)
    {
      GError *error = NULL;
      char *line = dispatch_smtp_command_mail_from (bad_paths[i].path, 1000,
                                                    DISPATCH_SMTP_BODY_8BITMIME, FALSE, &error);

      note ("MAIL FROM", bad_paths[i].path);
      assert_refused (line, error, bad_paths[i].fragment);
    }

  {
    GError *error = NULL;
    char *line = dispatch_smtp_command_mail_from ("a\xff\xfe@example.org", 0, DISPATCH_SMTP_BODY_NONE,
                                                  TRUE, &error);

    assert_refused (line, error, "not valid UTF-8");
  }
}

static void
test_rcpt_to (void)
{
  static const struct { const char *path; gboolean smtputf8; const char *expected; } cases[] = {
    { "bob@example.org", FALSE, "RCPT TO:<bob@example.org>\r\n" },
    { "Postmaster", FALSE, "RCPT TO:<Postmaster>\r\n" },
    { "postmaster", FALSE, "RCPT TO:<postmaster>\r\n" },
    { "postmaster@example.org", FALSE, "RCPT TO:<postmaster@example.org>\r\n" },
    { "bob@[IPv6:2001:db8::1]", FALSE, "RCPT TO:<bob@[IPv6:2001:db8::1]>\r\n" },
    { "用户@例子.广告", TRUE, "RCPT TO:<用户@例子.广告>\r\n" },
    { "bob@example.org", TRUE, "RCPT TO:<bob@example.org>\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      char *line = dispatch_smtp_command_rcpt_to (cases[i].path, cases[i].smtputf8, &error);

      assert_built (line, error, cases[i].expected);
    }
}

static void
test_rcpt_to_refused (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_paths); i++)
    {
      GError *error = NULL;
      char *line = dispatch_smtp_command_rcpt_to (bad_paths[i].path, FALSE, &error);

      note ("RCPT TO", bad_paths[i].path);
      assert_refused (line, error, bad_paths[i].fragment);
    }

  {
    GError *error = NULL;
    char *line = dispatch_smtp_command_rcpt_to ("", FALSE, &error);

    assert_refused (line, error, "RCPT TO path is empty");
  }
  {
    GError *error = NULL;
    char *line = dispatch_smtp_command_rcpt_to ("postmaster\r\n", FALSE, &error);

    assert_refused (line, error, "carriage return (CR)");
  }
  {
    GError *error = NULL;
    char *line = dispatch_smtp_command_rcpt_to ("a\xff@example.org", TRUE, &error);

    assert_refused (line, error, "not valid UTF-8");
  }
}

static void
test_auth (void)
{
  static const struct { const char *mechanism; const char *response; const char *expected; } cases[] = {
    { "PLAIN", NULL, "AUTH PLAIN\r\n" },
    { "LOGIN", NULL, "AUTH LOGIN\r\n" },
    { "PLAIN", "AGFsaWNlAHNlY3JldA==", "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n" },
    { "PLAIN", "=", "AUTH PLAIN =\r\n" },
    { "EXTERNAL", "=", "AUTH EXTERNAL =\r\n" },
    { "XOAUTH2", "dXNlcj1hQGIuYwFhdXRoPUJlYXJlciB0b2tlbgEB",
      "AUTH XOAUTH2 dXNlcj1hQGIuYwFhdXRoPUJlYXJlciB0b2tlbgEB\r\n" },
    { "SCRAM-SHA-256", "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM",
      "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM\r\n" },
    { "DIGEST_MD5", NULL, "AUTH DIGEST_MD5\r\n" },
    { "ABCDEFGHIJKLMNOPQRST", NULL, "AUTH ABCDEFGHIJKLMNOPQRST\r\n" },
    { "PLAIN", "YQ==", "AUTH PLAIN YQ==\r\n" },
    { "PLAIN", "YWI=", "AUTH PLAIN YWI=\r\n" },
    { "PLAIN", "YWJj", "AUTH PLAIN YWJj\r\n" },
    { "PLAIN", "+/+/", "AUTH PLAIN +/+/\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      char *line = dispatch_smtp_command_auth (cases[i].mechanism, cases[i].response, &error);

      assert_built (line, error, cases[i].expected);
    }
}

static void
test_auth_refused (void)
{
  static const struct { const char *mechanism; const char *response; const char *fragment; } cases[] = {
    { "", NULL, "1 to 20 characters" },
    { "ABCDEFGHIJKLMNOPQRSTU", NULL, "1 to 20 characters" },
    { "plain", NULL, "AUTH mechanism contains 'p'" },
    { "Plain", NULL, "contains 'l'" },
    { "PLAIN ", NULL, "a space" },
    { "PLAIN LOGIN", NULL, "a space" },
    { "X.Y", NULL, "'.'" },
    { "PL\xc3\x84IN", NULL, "byte 0xC3" },
    { "PLAIN\r\nMAIL FROM:<a@b.c>", NULL, "AUTH mechanism contains a carriage return (CR) at offset 5" },
    { "PLAIN\n", NULL, "line feed (LF)" },
    { "PLAIN\t", NULL, "a tab" },
    { "PLAIN", "", "neither base64" },
    { "PLAIN", "abc", "neither base64" },
    { "PLAIN", "ab=c", "neither base64" },
    { "PLAIN", "a===", "neither base64" },
    { "PLAIN", "====", "neither base64" },
    { "PLAIN", "==", "neither base64" },
    { "PLAIN", "YQ=", "neither base64" },
    { "PLAIN", "=YQ=", "neither base64" },
    { "PLAIN", "YW-_", "neither base64" },
    { "PLAIN", "YWJj YWJj", "neither base64" },
    { "PLAIN", "YWJj\xc3\xa9YWJ", "neither base64" },
    { "PLAIN", "AGFs\r\naWNl", "AUTH initial response contains a carriage return (CR) at offset 4" },
    { "PLAIN", "AGFsaWNl\n", "line feed (LF)" },
    { "PLAIN", "=\r\n", "carriage return (CR)" },
    { "PLAIN", "AGFs\x7f", "DEL" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      char *line = dispatch_smtp_command_auth (cases[i].mechanism, cases[i].response, &error);

      note ("AUTH mechanism", cases[i].mechanism);
      note ("AUTH initial response", cases[i].response);
      assert_refused (line, error, cases[i].fragment);
    }
}

static void
test_injection_everywhere (void)
{
  /* Every way a line break can ride into an argument: at the start, the middle, the end. */
  static const char * const breaks[] = { "\r\n", "\r", "\n", "\r\nQUIT\r\n", "\nRSET" };

  for (guint i = 0; i < G_N_ELEMENTS (breaks); i++)
    {
      g_autofree char *domain_end = g_strconcat ("mail.example.org", breaks[i], NULL);
      g_autofree char *domain_mid = g_strconcat ("mail", breaks[i], ".example.org", NULL);
      g_autofree char *literal = g_strconcat ("[127.0.0.1]", breaks[i], NULL);
      g_autofree char *path_end = g_strconcat ("a@example.org", breaks[i], NULL);
      g_autofree char *path_start = g_strconcat (breaks[i], "a@example.org", NULL);
      g_autofree char *mech = g_strconcat ("PLAIN", breaks[i], NULL);
      g_autofree char *response = g_strconcat ("AGFs", breaks[i], "aWNl", NULL);
      const char *domains[] = { domain_end, domain_mid, literal, breaks[i] };
      const char *paths[] = { path_end, path_start, breaks[i] };
      GError *error = NULL;
      char *line;

      for (guint d = 0; d < G_N_ELEMENTS (domains); d++)
        {
          line = dispatch_smtp_command_ehlo (domains[d], &error);
          assert_refused (line, g_steal_pointer (&error), "EHLO domain contains a");
          line = dispatch_smtp_command_helo (domains[d], &error);
          assert_refused (line, g_steal_pointer (&error), "HELO domain contains a");
          g_assert_false (dispatch_smtp_is_fqdn (domains[d]));
        }

      for (guint p = 0; p < G_N_ELEMENTS (paths); p++)
        {
          for (gboolean utf8 = FALSE; utf8 <= TRUE; utf8++)
            {
              line = dispatch_smtp_command_mail_from (paths[p], 0, DISPATCH_SMTP_BODY_NONE, utf8, &error);
              assert_refused (line, g_steal_pointer (&error), "MAIL FROM path contains a");
              line = dispatch_smtp_command_rcpt_to (paths[p], utf8, &error);
              assert_refused (line, g_steal_pointer (&error), "RCPT TO path contains a");
              g_assert_false (dispatch_smtp_path_is_valid (paths[p], utf8));
            }
        }

      line = dispatch_smtp_command_auth (mech, NULL, &error);
      assert_refused (line, g_steal_pointer (&error), "AUTH mechanism contains a");
      line = dispatch_smtp_command_auth (mech, "=", &error);
      assert_refused (line, g_steal_pointer (&error), "AUTH mechanism contains a");
      line = dispatch_smtp_command_auth ("PLAIN", response, &error);
      assert_refused (line, g_steal_pointer (&error), "AUTH initial response contains a");
    }
}

static void
test_bdat (void)
{
  g_autofree char *empty_last = dispatch_smtp_command_bdat (0, TRUE);
  g_autofree char *empty = dispatch_smtp_command_bdat (0, FALSE);
  g_autofree char *chunk = dispatch_smtp_command_bdat (65536, FALSE);
  g_autofree char *last = dispatch_smtp_command_bdat (1000, TRUE);
  g_autofree char *huge = dispatch_smtp_command_bdat (G_MAXUINT64, TRUE);

  g_assert_cmpstr (empty_last, ==, "BDAT 0 LAST\r\n");
  g_assert_cmpstr (empty, ==, "BDAT 0\r\n");
  g_assert_cmpstr (chunk, ==, "BDAT 65536\r\n");
  g_assert_cmpstr (last, ==, "BDAT 1000 LAST\r\n");
  g_assert_cmpstr (huge, ==, "BDAT 18446744073709551615 LAST\r\n");
}

static void
test_constants (void)
{
  g_assert_cmpstr (DISPATCH_SMTP_COMMAND_STARTTLS, ==, "STARTTLS\r\n");
  g_assert_cmpstr (DISPATCH_SMTP_COMMAND_DATA, ==, "DATA\r\n");
  g_assert_cmpstr (DISPATCH_SMTP_COMMAND_RSET, ==, "RSET\r\n");
  g_assert_cmpstr (DISPATCH_SMTP_COMMAND_QUIT, ==, "QUIT\r\n");
  g_assert_cmpstr (DISPATCH_SMTP_DATA_END, ==, ".\r\n");
}

static void
test_address_literal (void)
{
  static const struct { const char *address; const char *literal; } cases[] = {
    { "127.0.0.1", "[127.0.0.1]" },
    { "192.0.2.1", "[192.0.2.1]" },
    { "0.0.0.0", "[0.0.0.0]" },
    { "::1", "[IPv6:::1]" },
    { "::", "[IPv6:::]" },
    { "2001:db8::1", "[IPv6:2001:db8::1]" },
    { "2001:DB8:0:0:8:800:200C:417A", "[IPv6:2001:db8::8:800:200c:417a]" },
    { "fe80::1", "[IPv6:fe80::1]" },
    /* IPv4-mapped: the server saw an IPv4 client */
    { "::ffff:127.0.0.1", "[127.0.0.1]" },
    { "::ffff:192.0.2.33", "[192.0.2.33]" },
    /* not mapped, just nearby */
    { "::fffe:c000:221", "[IPv6:::fffe:c000:221]" },
    { "64:ff9b::c000:221", "[IPv6:64:ff9b::c000:221]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (cases[i].address);
      g_autofree char *literal = NULL;
      g_autofree char *ehlo = NULL;
      g_autofree char *expected = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_nonnull (address);
      literal = dispatch_smtp_address_literal (address);
      g_assert_cmpstr (literal, ==, cases[i].literal);

      /* What we make, we accept. */
      ehlo = dispatch_smtp_command_ehlo (literal, &error);
      g_assert_no_error (error);
      expected = g_strdup_printf ("EHLO %s\r\n", literal);
      g_assert_cmpstr (ehlo, ==, expected);
      g_assert_true (dispatch_smtp_is_fqdn (literal));
    }

  {
    g_autoptr(GInetAddress) loopback4 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GInetAddress) loopback6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
    g_autofree char *literal4 = dispatch_smtp_address_literal (loopback4);
    g_autofree char *literal6 = dispatch_smtp_address_literal (loopback6);

    g_assert_cmpstr (literal4, ==, "[127.0.0.1]");
    g_assert_cmpstr (literal6, ==, "[IPv6:::1]");
  }
}

static void
test_is_fqdn (void)
{
  g_autofree char *label63 = g_strnfill (63, 'a');
  g_autofree char *label64 = g_strnfill (64, 'a');
  g_autofree char *long63 = g_strconcat (label63, ".example.org", NULL);
  g_autofree char *long64 = g_strconcat (label64, ".example.org", NULL);
  g_autofree char *name253 = g_strdup_printf ("%s.%s.%s.%.61s", label63, label63, label63, label63);
  g_autofree char *name254 = g_strdup_printf ("%s.%s.%s.%.62s", label63, label63, label63, label63);
  const char *yes[] = {
    "mail.example.org", "a.b", "A.B", "xn--bcher-kva.example", "a1.example", "1a.example",
    "123.example.org", "x.y-z.museum", "a-b-c.d--e.org", "example.x1",
    "[192.0.2.1]", "[IPv6:::1]", "[IPv6:2001:db8::1]",
    long63, name253,
  };
  const char *no[] = {
    NULL, "", "localhost", "mail", "LOCALHOST", "example.org.", ".example.org", "a..b", ".",
    "-a.example", "a-.example", "a.-example", "a.example-", "a_b.example", "a b.example",
    "a.example\r\n", "a\n.example", "a.example\t", "a.example\x7f",
    "192.0.2.1", "example.123", "1.2", "::1",
    "b\xc3\xbc" "cher.example", "*.example.org", "a.example:25", "a@example.org",
    "[1.2.3]", "[::1]", "[IPv6:1.2.3.4]", "[192.0.2.1", "192.0.2.1]",
    long64, name254,
  };

  g_assert_cmpuint (strlen (name253), ==, 253);
  g_assert_cmpuint (strlen (name254), ==, 254);

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      note ("FQDN?", yes[i]);
      g_assert_true (dispatch_smtp_is_fqdn (yes[i]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (no); i++)
    {
      note ("not FQDN?", no[i]);
      g_assert_false (dispatch_smtp_is_fqdn (no[i]));
    }
}

static void
test_path_is_valid (void)
{
  const char *ascii_yes[] = {
    "", "user@example.org", "first.last+tag@example.org", "\"quoted\"@example.org",
    "user@[192.0.2.1]", "Postmaster", "a!#$%&'*+-/=?^_`{|}~@example.org",
  };
  const char *utf8_only[] = {
    "δοκιμή@παράδειγμα.δοκιμή", "用户@例子.广告", "b\xc3\xb6rje@example.org",
  };
  const char *never[] = {
    NULL, "a b@example.org", "<a@example.org>", "a@example.org>", "a<b@example.org",
    "a@example.org\r\n", "a@example.org\r", "a@example.org\n", "\r\na@example.org",
    "a\t@example.org", "a\x01@example.org", "a\x1f@example.org", "a\x7f@example.org",
    "a\xff@example.org", "\xc3@example.org", "a\xc0\xaf@example.org",
  };

  for (guint i = 0; i < G_N_ELEMENTS (ascii_yes); i++)
    {
      g_assert_true (dispatch_smtp_path_is_valid (ascii_yes[i], FALSE));
      g_assert_true (dispatch_smtp_path_is_valid (ascii_yes[i], TRUE));
    }
  for (guint i = 0; i < G_N_ELEMENTS (utf8_only); i++)
    {
      g_assert_false (dispatch_smtp_path_is_valid (utf8_only[i], FALSE));
      g_assert_true (dispatch_smtp_path_is_valid (utf8_only[i], TRUE));
    }
  for (guint i = 0; i < G_N_ELEMENTS (never); i++)
    {
      note ("never a path", never[i]);
      g_assert_false (dispatch_smtp_path_is_valid (never[i], FALSE));
      g_assert_false (dispatch_smtp_path_is_valid (never[i], TRUE));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/smtp-command/hello", test_hello);
  g_test_add_func ("/smtp-command/hello-refused", test_hello_refused);
  g_test_add_func ("/smtp-command/mail-from", test_mail_from);
  g_test_add_func ("/smtp-command/mail-from-refused", test_mail_from_refused);
  g_test_add_func ("/smtp-command/rcpt-to", test_rcpt_to);
  g_test_add_func ("/smtp-command/rcpt-to-refused", test_rcpt_to_refused);
  g_test_add_func ("/smtp-command/auth", test_auth);
  g_test_add_func ("/smtp-command/auth-refused", test_auth_refused);
  g_test_add_func ("/smtp-command/injection-everywhere", test_injection_everywhere);
  g_test_add_func ("/smtp-command/bdat", test_bdat);
  g_test_add_func ("/smtp-command/constants", test_constants);
  g_test_add_func ("/smtp-command/address-literal", test_address_literal);
  g_test_add_func ("/smtp-command/is-fqdn", test_is_fqdn);
  g_test_add_func ("/smtp-command/path-is-valid", test_path_is_valid);

  return g_test_run ();
}
