/* test-smtp-capabilities.c — EHLO replies from real servers and odd ones, read into capabilities.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "dispatch-engine.h"

static DispatchSmtpCapabilities *
caps_from_wire (const char *wire)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;
  gsize consumed = 0;

  reply = dispatch_smtp_reply_parse (wire, strlen (wire), &consumed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_cmpuint (consumed, ==, strlen (wire));

  return dispatch_smtp_capabilities_new_from_ehlo (reply);
}

static void
assert_mechanisms (const DispatchSmtpCapabilities *caps,
                   const char * const             *expected)
{
  const char * const *mechanisms = dispatch_smtp_capabilities_get_auth_mechanisms (caps);

  g_assert_nonnull (mechanisms);
  g_assert_cmpstrv ((char **) mechanisms, (char **) expected);
}

static void
test_gmail_before_tls (void)
{
  /* smtp.gmail.com:587, answering the first EHLO. */
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-smtp.gmail.com at your service, [203.0.113.7]\r\n"
    "250-SIZE 35882577\r\n"
    "250-8BITMIME\r\n"
    "250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-PIPELINING\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n");
  const char * const none[] = { NULL };

  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (caps), ==, "smtp.gmail.com");
  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==,
                   DISPATCH_SMTP_CAPABILITY_SIZE |
                   DISPATCH_SMTP_CAPABILITY_8BITMIME |
                   DISPATCH_SMTP_CAPABILITY_STARTTLS |
                   DISPATCH_SMTP_CAPABILITY_ENHANCEDSTATUSCODES |
                   DISPATCH_SMTP_CAPABILITY_PIPELINING |
                   DISPATCH_SMTP_CAPABILITY_CHUNKING |
                   DISPATCH_SMTP_CAPABILITY_SMTPUTF8);
  g_assert_false (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_AUTH));
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 35882577);
  assert_mechanisms (caps, none);
  g_assert_false (dispatch_smtp_capabilities_has_auth_mechanism (caps, "PLAIN"));
}

static void
test_gmail_after_tls (void)
{
  /* The same server after STARTTLS: AUTH appears, STARTTLS is gone. */
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-smtp.gmail.com at your service, [203.0.113.7]\r\n"
    "250-SIZE 35882577\r\n"
    "250-8BITMIME\r\n"
    "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-PIPELINING\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n");
  const char * const mechanisms[] = {
    "LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER", "XOAUTH", NULL
  };

  g_assert_false (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_STARTTLS));
  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_AUTH));
  assert_mechanisms (caps, mechanisms);
  g_assert_true (dispatch_smtp_capabilities_has_auth_mechanism (caps, "XOAUTH2"));
  g_assert_true (dispatch_smtp_capabilities_has_auth_mechanism (caps, "plain"));
  g_assert_false (dispatch_smtp_capabilities_has_auth_mechanism (caps, "CRAM-MD5"));
}

static void
test_postfix (void)
{
  /* Postfix with smtpd_sasl_auth_enable and broken_sasl_auth_clients, after STARTTLS. */
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-mail.example.org\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-VRFY\r\n"
    "250-ETRN\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-AUTH=PLAIN LOGIN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-DSN\r\n"
    "250-SMTPUTF8\r\n"
    "250 CHUNKING\r\n");
  const char * const mechanisms[] = { "PLAIN", "LOGIN", NULL };

  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (caps), ==, "mail.example.org");
  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==,
                   DISPATCH_SMTP_CAPABILITY_PIPELINING |
                   DISPATCH_SMTP_CAPABILITY_SIZE |
                   DISPATCH_SMTP_CAPABILITY_AUTH |
                   DISPATCH_SMTP_CAPABILITY_ENHANCEDSTATUSCODES |
                   DISPATCH_SMTP_CAPABILITY_8BITMIME |
                   DISPATCH_SMTP_CAPABILITY_DSN |
                   DISPATCH_SMTP_CAPABILITY_SMTPUTF8 |
                   DISPATCH_SMTP_CAPABILITY_CHUNKING);
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 10240000);
  assert_mechanisms (caps, mechanisms);
}

static void
test_postfix_before_tls (void)
{
  /* Postfix's default for a client that has not started TLS: no AUTH offered yet. */
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-mail.example.org\n"
    "250-PIPELINING\n"
    "250-SIZE 10240000\n"
    "250-VRFY\n"
    "250-ETRN\n"
    "250-STARTTLS\n"
    "250-ENHANCEDSTATUSCODES\n"
    "250-8BITMIME\n"
    "250-DSN\n"
    "250-SMTPUTF8\n"
    "250 CHUNKING\n");

  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_STARTTLS));
  g_assert_false (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_AUTH));
  g_assert_null (dispatch_smtp_capabilities_get_auth_mechanisms (caps)[0]);
}

static void
test_exchange_online (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-AM0PR01CA0001.outlook.office365.com Hello [203.0.113.7]\r\n"
    "250-SIZE 157286400\r\n"
    "250-PIPELINING\r\n"
    "250-DSN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-AUTH LOGIN XOAUTH2\r\n"
    "250-8BITMIME\r\n"
    "250-BINARYMIME\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n");
  const char * const mechanisms[] = { "LOGIN", "XOAUTH2", NULL };

  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (caps), ==,
                   "AM0PR01CA0001.outlook.office365.com");
  g_assert_true (dispatch_smtp_capabilities_has (caps,
                                                 DISPATCH_SMTP_CAPABILITY_BINARYMIME |
                                                 DISPATCH_SMTP_CAPABILITY_CHUNKING |
                                                 DISPATCH_SMTP_CAPABILITY_8BITMIME));
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 157286400);
  assert_mechanisms (caps, mechanisms);
}

static void
test_case_insensitive (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-localhost\r\n"
    "250-starttls\r\n"
    "250-Auth plain Login cram-md5\r\n"
    "250-Size 2048\r\n"
    "250-pipelining\r\n"
    "250-Chunking\r\n"
    "250-8bitmime\r\n"
    "250-SmtpUtf8\r\n"
    "250-EnhancedStatusCodes\r\n"
    "250-dsn\r\n"
    "250 binaryMIME\r\n");
  const char * const mechanisms[] = { "PLAIN", "LOGIN", "CRAM-MD5", NULL };

  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==,
                   DISPATCH_SMTP_CAPABILITY_STARTTLS |
                   DISPATCH_SMTP_CAPABILITY_AUTH |
                   DISPATCH_SMTP_CAPABILITY_SIZE |
                   DISPATCH_SMTP_CAPABILITY_PIPELINING |
                   DISPATCH_SMTP_CAPABILITY_CHUNKING |
                   DISPATCH_SMTP_CAPABILITY_8BITMIME |
                   DISPATCH_SMTP_CAPABILITY_SMTPUTF8 |
                   DISPATCH_SMTP_CAPABILITY_ENHANCEDSTATUSCODES |
                   DISPATCH_SMTP_CAPABILITY_DSN |
                   DISPATCH_SMTP_CAPABILITY_BINARYMIME);
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 2048);
  assert_mechanisms (caps, mechanisms);
}

static void
test_auth_legacy_only (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-old.example.org\r\n"
    "250 AUTH=LOGIN PLAIN\r\n");
  const char * const mechanisms[] = { "LOGIN", "PLAIN", NULL };

  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_AUTH));
  assert_mechanisms (caps, mechanisms);
}

static void
test_auth_union (void)
{
  /* Union of all AUTH lines in first-seen order, upper-cased, each once. */
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-mx.example.org\r\n"
    "250-AUTH=LOGIN\r\n"
    "250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
    "250-auth login xoauth2 plain\r\n"
    "250 AUTH  SCRAM-SHA-256\t  GSSAPI  \r\n");
  const char * const mechanisms[] = {
    "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2", "SCRAM-SHA-256", "GSSAPI", NULL
  };

  assert_mechanisms (caps, mechanisms);
  g_assert_true (dispatch_smtp_capabilities_has_auth_mechanism (caps, "scram-sha-256"));
}

static void
test_auth_odd (void)
{
  g_autoptr(DispatchSmtpCapabilities) empty = caps_from_wire ("250-mx.example.org\r\n250 AUTH\r\n");
  /* Names outside the SASL alphabet or over 20 characters could never be sent back in an AUTH
   * command; they are dropped rather than offered. */
  g_autoptr(DispatchSmtpCapabilities) junk = caps_from_wire (
    "250-mx.example.org\r\n"
    "250 AUTH PLAIN L\xc3\x96GIN THIS-NAME-IS-WAY-TOO-LONG X.Y DIGEST_MD5 ABCDEFGHIJKLMNOPQRST\r\n");
  const char * const none[] = { NULL };
  const char * const kept[] = { "PLAIN", "DIGEST_MD5", "ABCDEFGHIJKLMNOPQRST", NULL };

  g_assert_true (dispatch_smtp_capabilities_has (empty, DISPATCH_SMTP_CAPABILITY_AUTH));
  assert_mechanisms (empty, none);
  assert_mechanisms (junk, kept);
}

static void
test_size (void)
{
  static const struct { const char *line; guint64 max_size; } cases[] = {
    { "SIZE", 0 },
    { "SIZE ", 0 },
    { "SIZE 0", 0 },
    { "SIZE 1", 1 },
    { "SIZE 52428800", 52428800 },
    { "SIZE 5000000000", G_GUINT64_CONSTANT (5000000000) },          /* beyond 32 bits */
    { "SIZE 18446744073709551615", G_MAXUINT64 },
    { "SIZE  1000", 1000 },
    { "size 1000", 1000 },
    /* garbage: treated as "no limit", never a crash or a guess */
    { "SIZE 18446744073709551616", 0 },
    { "SIZE 99999999999999999999999999", 0 },
    { "SIZE -1", 0 },
    { "SIZE +5", 0 },
    { "SIZE 0x10", 0 },
    { "SIZE 10M", 0 },
    { "SIZE 1e6", 0 },
    { "SIZE unlimited", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *wire = g_strdup_printf ("250-mx.example.org\r\n250 %s\r\n", cases[i].line);
      g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (wire);

      g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_SIZE));
      g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, cases[i].max_size);
    }
}

static void
test_greeting_only (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire ("250 mail.example.org ESMTP ready\r\n");
  g_autoptr(DispatchSmtpCapabilities) bare = caps_from_wire ("250\r\n");
  g_autoptr(DispatchSmtpCapabilities) spaced = caps_from_wire ("250-  relay.example.org  hi\r\n250 DSN\r\n");

  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (caps), ==, "mail.example.org");
  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==, DISPATCH_SMTP_CAPABILITY_NONE);
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 0);
  g_assert_null (dispatch_smtp_capabilities_get_domain (bare));
  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (spaced), ==, "relay.example.org");
  g_assert_true (dispatch_smtp_capabilities_has (spaced, DISPATCH_SMTP_CAPABILITY_DSN));
}

static void
test_first_line_is_not_a_keyword (void)
{
  /* A greeting that happens to be a keyword's name advertises nothing. */
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire ("250-STARTTLS\r\n250 8BITMIME\r\n");

  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (caps), ==, "STARTTLS");
  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==, DISPATCH_SMTP_CAPABILITY_8BITMIME);
}

static void
test_unknown_keywords (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-mx.example.org\r\n"
    "250-VRFY\r\n"
    "250-ETRN\r\n"
    "250-XCLIENT NAME ADDR PROTO\r\n"
    "250-X-EXPS GSSAPI NTLM\r\n"
    "250-STARTTLSX\r\n"
    "250-XSTARTTLS\r\n"
    "250-AUTHX PLAIN\r\n"
    "250-X-AUTH LOGIN\r\n"
    "250-SIZEX 100\r\n"
    "250-8BITMIMEX\r\n"
    "250-\r\n"
    "250- \r\n"
    "250 DELIVERBY 3600\r\n");

  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==, DISPATCH_SMTP_CAPABILITY_NONE);
  g_assert_null (dispatch_smtp_capabilities_get_auth_mechanisms (caps)[0]);
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 0);
}

static void
test_invalid_utf8_domain (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire ("250-mx\xff.example.org hi\r\n250 DSN\r\n");
  const char *domain = dispatch_smtp_capabilities_get_domain (caps);

  g_assert_true (g_utf8_validate (domain, -1, NULL));
  g_assert_cmpstr (domain, ==, "mx\xef\xbf\xbd.example.org");
}

static void
test_synthetic_reply (void)
{
  const char * const lines[] = { "mx.example.org", "STARTTLS", NULL };
  g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_reply_new (250, lines);
  g_autoptr(DispatchSmtpCapabilities) caps = dispatch_smtp_capabilities_new_from_ehlo (reply);

  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_STARTTLS));
  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (caps), ==, "mx.example.org");
}

/* As big an EHLO reply as the reply parser lets through — 127 lines of 4 KiB, about 70,000
 * mechanism names: the list stays bounded (and reading it takes no time worth mentioning;
 * it used to take seconds, checking each name against all before it). */
static void
test_huge_auth_list (void)
{
  g_autoptr(GString) wire = g_string_new ("250-big.example.org\r\n");
  g_autoptr(DispatchSmtpCapabilities) caps = NULL;
  const char * const *mechanisms;
  guint n = 0;

  for (guint line = 0; line + 2 < DISPATCH_SMTP_REPLY_MAX_LINES; line++)
    {
      gsize line_length = strlen ("250-AUTH");

      g_string_append (wire, "250-AUTH");
      for (;;)
        {
          g_autofree char *name = g_strdup_printf (" M%u", n);

          if (line_length + strlen (name) > DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH)
            break;
          g_string_append (wire, name);
          line_length += strlen (name);
          n++;
        }
      g_string_append (wire, "\r\n");
    }
  g_string_append (wire, "250 AUTH PLAIN\r\n");

  caps = caps_from_wire (wire->str);
  mechanisms = dispatch_smtp_capabilities_get_auth_mechanisms (caps);
  g_assert_cmpuint (n, >, 60000);
  g_assert_cmpuint (g_strv_length ((char **) mechanisms), ==, DISPATCH_SMTP_CAPABILITIES_MAX_AUTH_MECHANISMS + 1);
  g_assert_cmpstr (mechanisms[0], ==, "M0");
  /* The one the client can use survives the junk before it. */
  g_assert_true (dispatch_smtp_capabilities_has_auth_mechanism (caps, "PLAIN"));
  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_AUTH));
}

static void
test_refuses_error_reply (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_reply_new (502, NULL);

      g_assert_null (dispatch_smtp_capabilities_new_from_ehlo (reply));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*get_class*");
}

static void
test_empty (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = dispatch_smtp_capabilities_new_empty ();

  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (caps), ==, DISPATCH_SMTP_CAPABILITY_NONE);
  g_assert_false (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_STARTTLS));
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 0);
  g_assert_nonnull (dispatch_smtp_capabilities_get_auth_mechanisms (caps));
  g_assert_null (dispatch_smtp_capabilities_get_auth_mechanisms (caps)[0]);
  g_assert_false (dispatch_smtp_capabilities_has_auth_mechanism (caps, "PLAIN"));
  g_assert_null (dispatch_smtp_capabilities_get_domain (caps));
}

static void
test_has (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n");

  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_PIPELINING));
  g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_PIPELINING |
                                                       DISPATCH_SMTP_CAPABILITY_CHUNKING));
  /* A combination is offered only when all of it is. */
  g_assert_false (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_CHUNKING |
                                                        DISPATCH_SMTP_CAPABILITY_BINARYMIME));
}

static void
test_copy (void)
{
  g_autoptr(DispatchSmtpCapabilities) caps = caps_from_wire (
    "250-mx.example.org\r\n250-SIZE 5000000000\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n");
  g_autoptr(DispatchSmtpCapabilities) copy = dispatch_smtp_capabilities_copy (caps);
  g_autoptr(DispatchSmtpCapabilities) empty = dispatch_smtp_capabilities_new_empty ();
  g_autoptr(DispatchSmtpCapabilities) empty_copy = dispatch_smtp_capabilities_copy (empty);
  DispatchSmtpCapabilities *boxed;
  const char * const mechanisms[] = { "PLAIN", "LOGIN", NULL };

  g_assert_true (copy != caps);
  g_assert_cmpint (dispatch_smtp_capabilities_get_flags (copy), ==,
                   dispatch_smtp_capabilities_get_flags (caps));
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (copy), ==, G_GUINT64_CONSTANT (5000000000));
  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (copy), ==, "mx.example.org");
  g_assert_true (dispatch_smtp_capabilities_get_domain (copy) != dispatch_smtp_capabilities_get_domain (caps));
  assert_mechanisms (copy, mechanisms);

  /* The original may go first. */
  g_clear_pointer (&caps, dispatch_smtp_capabilities_free);
  assert_mechanisms (copy, mechanisms);

  g_assert_null (dispatch_smtp_capabilities_get_domain (empty_copy));
  g_assert_null (dispatch_smtp_capabilities_get_auth_mechanisms (empty_copy)[0]);

  g_assert_true (G_TYPE_IS_BOXED (DISPATCH_TYPE_SMTP_CAPABILITIES));
  boxed = g_boxed_copy (DISPATCH_TYPE_SMTP_CAPABILITIES, copy);
  g_assert_true (boxed != copy);
  assert_mechanisms (boxed, mechanisms);
  g_boxed_free (DISPATCH_TYPE_SMTP_CAPABILITIES, boxed);

  dispatch_smtp_capabilities_free (NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/smtp-capabilities/gmail-before-tls", test_gmail_before_tls);
  g_test_add_func ("/smtp-capabilities/gmail-after-tls", test_gmail_after_tls);
  g_test_add_func ("/smtp-capabilities/postfix", test_postfix);
  g_test_add_func ("/smtp-capabilities/postfix-before-tls", test_postfix_before_tls);
  g_test_add_func ("/smtp-capabilities/exchange-online", test_exchange_online);
  g_test_add_func ("/smtp-capabilities/case-insensitive", test_case_insensitive);
  g_test_add_func ("/smtp-capabilities/auth-legacy-only", test_auth_legacy_only);
  g_test_add_func ("/smtp-capabilities/auth-union", test_auth_union);
  g_test_add_func ("/smtp-capabilities/auth-odd", test_auth_odd);
  g_test_add_func ("/smtp-capabilities/size", test_size);
  g_test_add_func ("/smtp-capabilities/greeting-only", test_greeting_only);
  g_test_add_func ("/smtp-capabilities/first-line-is-not-a-keyword", test_first_line_is_not_a_keyword);
  g_test_add_func ("/smtp-capabilities/unknown-keywords", test_unknown_keywords);
  g_test_add_func ("/smtp-capabilities/invalid-utf8-domain", test_invalid_utf8_domain);
  g_test_add_func ("/smtp-capabilities/synthetic-reply", test_synthetic_reply);
  g_test_add_func ("/smtp-capabilities/refuses-error-reply", test_refuses_error_reply);
  g_test_add_func ("/smtp-capabilities/empty", test_empty);
  g_test_add_func ("/smtp-capabilities/huge-auth-list", test_huge_auth_list);
  g_test_add_func ("/smtp-capabilities/has", test_has);
  g_test_add_func ("/smtp-capabilities/copy", test_copy);

  return g_test_run ();
}
